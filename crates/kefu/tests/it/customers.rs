//! Integration scenarios of the customers area, against both backends.
