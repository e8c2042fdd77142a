"""Pure domain logic: standard library in, standard library out, `now` as a parameter."""
