//! Integration scenarios of the commerce area, against both backends.
