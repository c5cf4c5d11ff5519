"""Feature transforms: raw contract rows in, model inputs out."""
