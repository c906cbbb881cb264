init net stand-in
