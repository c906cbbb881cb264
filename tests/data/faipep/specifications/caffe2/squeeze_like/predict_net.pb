predict net stand-in
