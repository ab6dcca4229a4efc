//! Errors of the declaration parser and the type table.

use std::fmt;

/// An error with LuaJIT's wording, ready to be raised as a Lua error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CError {
    pub message: String,
}

impl CError {
    /// A message that names no token (`invalid C type`).
    pub fn new(message: impl Into<String>) -> CError {
        CError {
            message: message.into(),
        }
    }

    /// `<message> near '<token>'`, with ` at line N` past the first line.
    pub fn near(message: &str, token: &str, line: u32) -> CError {
        let mut text = format!("{message} near '{token}'");
        if line > 1 {
            text.push_str(&format!(" at line {line}"));
        }
        CError { message: text }
    }

    /// Adds ` at line N` (past the first line) to a message that names no token, as
    /// LuaJIT reports every parse error with its line.
    pub(crate) fn at_line(mut self, line: u32) -> CError {
        if line > 1 && !self.message.contains(" near '") {
            self.message.push_str(&format!(" at line {line}"));
        }
        self
    }
}

impl fmt::Display for CError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CError {}

/// The messages the parser and the table raise, worded as LuaJIT words them.
pub mod msg {
    pub const DECL_SPEC: &str = "declaration specifier expected";
    pub const INVALID_TYPE: &str = "invalid C type";
    pub const SIZE: &str = "size of C type is unknown or too large";
    pub const BAD_STORAGE: &str = "bad storage class";
    pub const UNEXPECTED: &str = "unexpected symbol";
    pub const INVALID_VALUE: &str = "invalid value";
    pub const PARAM_COUNT: &str = "wrong number of type parameters";
    pub const TABLE_OVERFLOW: &str = "table overflow";
    pub const NEST_TOO_DEEP: &str = "chunk has too many syntax levels";

    pub fn redefine(name: &str) -> String {
        format!("attempt to redefine '{name}'")
    }

    pub fn implicit_tag(name: &str) -> String {
        format!("undeclared or implicit tag '{name}'")
    }

    /// `'x' expected`.
    pub fn expected(what: &str) -> String {
        format!("'{what}' expected")
    }
}
