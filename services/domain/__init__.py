"""Domain rules shared by several services: identifiers and money."""
