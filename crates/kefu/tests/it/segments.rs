//! Integration scenarios of the segments area, against both backends.
