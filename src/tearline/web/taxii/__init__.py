"""The TAXII 2.1 edge: routes, media types, cursors, auth and error resources."""
