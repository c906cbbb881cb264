"""Model variants (optimizer chains), the datasets they are judged on, and the quality pass that judges them."""
