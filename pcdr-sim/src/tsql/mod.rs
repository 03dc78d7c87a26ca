//! The T-SQL tokenizer and parser.
