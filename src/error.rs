//! [`Error`] and [`Result`]: what the embedding API reports.

use std::fmt;
use std::sync::Arc;

/// The message a failed allocation raises in Lua (and the text of [`Error::Memory`]).
pub(crate) const MEMORY_MESSAGE: &str = "not enough memory";

/// An error from Lua or from the embedding API.
///
/// Errors raised by Lua code reach Rust as [`Error::Runtime`]: the error's message and,
/// for a string error, the traceback of where it was raised; an error a Rust callback
/// returned reaches Rust as [`Error::CallbackError`], with the callback's error as it
/// was; a chunk that does not compile is [`Error::Syntax`]; an allocation past the
/// memory limit is [`Error::Memory`].
///
/// ```
/// use moonjet::{Error, Lua};
/// let lua = Lua::new();
/// match lua.load("error('boom', 0)").exec() {
///     Err(Error::Runtime(msg)) => assert!(msg.starts_with("boom\nstack traceback:\n")),
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(lua.load("x = = 1").exec(), Err(Error::Syntax { .. })));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// A chunk failed to compile.
    Syntax {
        /// The compiler's message, with the chunk name and line.
        message: String,
        /// The chunk ended too early (more input could complete it, as in a REPL).
        incomplete_input: bool,
    },
    /// An error raised by Lua code (`error(...)`, a failed operation): the error value's
    /// text and, if the value is a string, `"\nstack traceback:\n\t..."` showing where
    /// it was raised (as mlua's message handler adds).
    Runtime(String),
    /// An allocation would pass the memory limit ("not enough memory").
    Memory,
    /// A Lua value could not be converted to the Rust type asked for.
    FromLuaConversionError {
        /// The Lua type name of the value.
        from: &'static str,
        /// The Rust type asked for.
        to: String,
        /// Why, when more can be said.
        message: Option<String>,
    },
    /// A Rust value could not be converted to a Lua value.
    ToLuaConversionError {
        /// The Rust type.
        from: String,
        /// The Lua type it was to become.
        to: &'static str,
        /// Why, when more can be said.
        message: Option<String>,
    },
    /// An argument of a Rust callback could not be converted.
    BadArgument {
        /// The argument's position (1-based; a method's `self` is 1).
        pos: usize,
        /// What went wrong.
        cause: Box<Error>,
    },
    /// A userdata is not of the Rust type asked for.
    UserDataTypeMismatch,
    /// A userdata's value was already dropped (taken, finalized, or its scope ended).
    UserDataDestructed,
    /// A userdata could not be borrowed because it is borrowed mutably.
    UserDataBorrowError,
    /// A userdata could not be borrowed mutably because it is borrowed.
    UserDataBorrowMutError,
    /// A function made in a [`Scope`](crate::Scope) was called after the scope ended.
    CallbackDestructed,
    /// A [`RegistryKey`](crate::RegistryKey) of another `Lua` was used.
    MismatchedRegistryKey,
    /// A Rust callback returned `Err`, and no Lua code caught the error (Lua code sees
    /// the error's message as a string, as usual).
    ///
    /// ```
    /// use moonjet::{Error, ExternalError, Lua};
    /// let lua = Lua::new();
    /// let f = lua
    ///     .create_function(|_, ()| -> moonjet::Result<()> { Err("disk full".into_lua_err()) })
    ///     .unwrap();
    /// lua.globals().set("save", f).unwrap();
    /// match lua.load("save()").exec() {
    ///     Err(Error::CallbackError { cause, traceback }) => {
    ///         assert_eq!(cause.to_string(), "disk full");
    ///         assert!(traceback.starts_with("stack traceback:"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    CallbackError {
        /// The Lua stack where the callback returned the error.
        traceback: String,
        /// The error the callback returned.
        cause: Arc<Error>,
    },
    /// A value could not be serialized to a Lua value (the `serde` feature).
    SerializeError(String),
    /// A Lua value could not be deserialized (the `serde` feature).
    DeserializeError(String),
    /// Any other error, from Rust code.
    External(Arc<dyn std::error::Error + Send + Sync>),
}

/// `std::result::Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Runtime`] with `message` (as mlua's `Error::runtime`).
    pub fn runtime(message: impl fmt::Display) -> Error {
        Error::Runtime(message.to_string())
    }

    /// Wrap any Rust error as [`Error::External`] (an [`Error`] stays itself).
    pub fn external(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        match err.into().downcast::<Error>() {
            Ok(e) => *e,
            Err(other) => Error::External(Arc::from(other)),
        }
    }

    /// The Rust error of type `T` this error carries: the error of an
    /// [`Error::External`], looked for through the causes of [`Error::CallbackError`]
    /// and [`Error::BadArgument`].
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        match self {
            Error::External(e) => e.downcast_ref(),
            Error::CallbackError { cause, .. } => cause.downcast_ref(),
            Error::BadArgument { cause, .. } => cause.downcast_ref(),
            _ => None,
        }
    }

    pub(crate) fn from_conversion(from: &'static str, to: &str, message: Option<String>) -> Error {
        Error::FromLuaConversionError {
            from,
            to: to.to_string(),
            message,
        }
    }

    /// The text a Lua error raised for this error carries: the message itself for
    /// [`Error::Runtime`], "not enough memory" for [`Error::Memory`], else the
    /// [`Display`](fmt::Display) text.
    pub(crate) fn lua_message(&self) -> String {
        match self {
            Error::Runtime(msg) => msg.clone(),
            Error::Syntax { message, .. } => message.clone(),
            // Lua code sees the message of the error the callback returned.
            Error::CallbackError { cause, .. } => cause.lua_message(),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax { message, .. } => write!(f, "syntax error: {message}"),
            Error::Runtime(msg) => write!(f, "runtime error: {msg}"),
            Error::Memory => f.write_str(MEMORY_MESSAGE),
            Error::FromLuaConversionError { from, to, message } => {
                write!(f, "error converting Lua {from} to {to}")?;
                match message {
                    Some(m) => write!(f, " ({m})"),
                    None => Ok(()),
                }
            }
            Error::ToLuaConversionError { from, to, message } => {
                write!(f, "error converting {from} to Lua {to}")?;
                match message {
                    Some(m) => write!(f, " ({m})"),
                    None => Ok(()),
                }
            }
            Error::BadArgument { pos, cause } => {
                write!(f, "bad argument #{pos}: {}", cause.lua_message())
            }
            Error::UserDataTypeMismatch => f.write_str("userdata is not of the expected type"),
            Error::UserDataDestructed => f.write_str("userdata has been destructed"),
            Error::UserDataBorrowError => f.write_str("error borrowing userdata"),
            Error::UserDataBorrowMutError => f.write_str("error mutably borrowing userdata"),
            Error::CallbackDestructed => {
                f.write_str("a function of a scope was called after the scope ended")
            }
            Error::MismatchedRegistryKey => {
                f.write_str("registry key used with a Lua state it does not belong to")
            }
            Error::CallbackError { traceback, cause } => {
                // Nested callback errors (Rust called Lua called Rust...): the innermost
                // error and the traceback of where it was returned, the deepest stack.
                let (mut root, mut traceback) = (cause, traceback);
                while let Error::CallbackError {
                    traceback: inner_traceback,
                    cause: inner_cause,
                } = root.as_ref()
                {
                    (root, traceback) = (inner_cause, inner_traceback);
                }
                write!(f, "{root}\n{}", traceback.trim_end())
            }
            Error::SerializeError(m) => write!(f, "serialize error: {m}"),
            Error::DeserializeError(m) => write!(f, "deserialize error: {m}"),
            Error::External(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::BadArgument { cause, .. } => Some(cause.as_ref()),
            Error::External(e) => Some(e.as_ref()),
            // Not the cause of a CallbackError: its text is part of the Display already.
            _ => None,
        }
    }
}

/// Turn any error into an [`Error`] (as mlua's `ExternalError`).
pub trait ExternalError {
    /// This error as [`Error::External`].
    fn into_lua_err(self) -> Error;
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> ExternalError for E {
    fn into_lua_err(self) -> Error {
        Error::external(self)
    }
}

/// `.into_lua_err()` on the error of a `Result` (as mlua's `ExternalResult`).
pub trait ExternalResult<T> {
    /// This result with its error made an [`Error::External`].
    fn into_lua_err(self) -> Result<T>;
}

impl<T, E: ExternalError> ExternalResult<T> for std::result::Result<T, E> {
    fn into_lua_err(self) -> Result<T> {
        self.map_err(|e| e.into_lua_err())
    }
}
