//! The TDS 7.4 wire layer.
