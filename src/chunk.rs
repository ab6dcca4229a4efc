//! [`Chunk`]: a piece of Lua code (source or binary) about to be run.

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::raw;
use crate::value::{Function, Table, ValueRef};
use crate::{FromLuaMulti, IntoLuaMulti};
use std::borrow::Cow;

/// What [`Lua::load`] accepts: source text or a binary chunk, as `&str`, `String`,
/// `&[u8]` or `Vec<u8>`.
pub trait AsChunk<'a> {
    /// The chunk's bytes.
    fn source(self) -> Cow<'a, [u8]>;
}

impl<'a> AsChunk<'a> for &'a str {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl<'a> AsChunk<'a> for String {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Owned(self.into_bytes())
    }
}

impl<'a> AsChunk<'a> for &'a String {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl<'a> AsChunk<'a> for &'a [u8] {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<'a> AsChunk<'a> for Vec<u8> {
    fn source(self) -> Cow<'a, [u8]> {
        Cow::Owned(self)
    }
}

/// Which kinds of chunk [`Chunk::set_mode`] allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkMode {
    /// Source text only.
    Text,
    /// Binary chunks only.
    Binary,
}

/// A chunk of Lua code loaded by [`Lua::load`].
///
/// ```
/// # let lua = moonjet::Lua::new();
/// let chunk = lua.load("local a, b = ... return a .. b").set_name("concat");
/// let f = chunk.into_function().unwrap();
/// assert_eq!(f.call::<String>(("x", "y")).unwrap(), "xy");
///
/// let err = lua.load("error('bad')").set_name("script.lua").exec().unwrap_err();
/// assert!(err.to_string().contains("script.lua:1: bad"));
/// ```
#[must_use = "a chunk does nothing until it is run (exec, eval, call) or made a function"]
pub struct Chunk<'a> {
    lua: &'a Lua,
    source: Cow<'a, [u8]>,
    name: Option<String>,
    env: Option<Table>,
    mode: Option<ChunkMode>,
}

impl<'a> Chunk<'a> {
    pub(crate) fn new(lua: &'a Lua, source: Cow<'a, [u8]>) -> Chunk<'a> {
        Chunk {
            lua,
            source,
            name: None,
            env: None,
            mode: None,
        }
    }

    /// Name the chunk for error messages and tracebacks. `"name"` shows as `name:1:`;
    /// a name starting with `@` (a file) or `=` is used as Lua's chunk names are.
    /// Without a name, text chunks show as `[string "..."]`, as `loadstring`'s do.
    pub fn set_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Run the chunk with `env` as its global environment (`setfenv`), e.g. a table
    /// of the few functions a sandboxed script may use.
    pub fn set_environment(mut self, env: Table) -> Self {
        self.env = Some(env);
        self
    }

    /// Accept only text or only binary chunks (default: both).
    pub fn set_mode(mut self, mode: ChunkMode) -> Self {
        self.mode = Some(mode);
        self
    }

    fn chunk_name(&self) -> Vec<u8> {
        match &self.name {
            Some(n) if n.starts_with('@') || n.starts_with('=') => n.clone().into_bytes(),
            Some(n) => format!("={n}").into_bytes(),
            None if self.source.first() == Some(&0x1b) => b"=(binary chunk)".to_vec(),
            None => self.source.to_vec(),
        }
    }

    fn compile(&self, source: &[u8]) -> Result<Function> {
        let lua = self.lua;
        let name = self.chunk_name();
        let mode: &[u8] = match self.mode {
            None => b"bt",
            Some(ChunkMode::Text) => b"t",
            Some(ChunkMode::Binary) => b"b",
        };
        let start = raw::stack_offset(lua.st());
        let loaded = lua.st().load(source, &name, mode);
        let st = lua.st();
        // SAFETY: a load leaves one value (the function or the message) on top.
        let top = unsafe { *st.top().sub(1) };
        let r = match loaded {
            Ok(true) => {
                let f = Function(ValueRef::new(lua, top));
                if let Some(env) = &self.env {
                    f.set_environment(env.clone())?;
                }
                Ok(f)
            }
            Ok(false) => {
                let message = String::from_utf8_lossy(&st.display_value(top)).into_owned();
                if message.ends_with(crate::error::MEMORY_MESSAGE) && !message.contains(':') {
                    Err(Error::Memory)
                } else {
                    Err(Error::Syntax {
                        incomplete_input: message.ends_with("'<eof>'"),
                        message,
                    })
                }
            }
            Err(_) => {
                raw::set_stack_offset(lua.st(), start);
                return Err(lua.take_error());
            }
        };
        raw::set_stack_offset(lua.st(), start);
        r
    }

    /// The chunk as a function (compiled, not run).
    pub fn into_function(self) -> Result<Function> {
        self.compile(&self.source)
    }

    /// Run the chunk.
    pub fn exec(self) -> Result<()> {
        self.call(())
    }

    /// Run the chunk with `args` as its `...`, converting what it returns to `R`.
    pub fn call<R: FromLuaMulti>(self, args: impl IntoLuaMulti) -> Result<R> {
        self.into_function()?.call(args)
    }

    /// Evaluate the chunk as an expression (`return <chunk>`) if it is one, else run
    /// it as statements; its results converted to `R`.
    ///
    /// ```
    /// # let lua = moonjet::Lua::new();
    /// assert_eq!(lua.load("1 + 2").eval::<i32>().unwrap(), 3);
    /// assert_eq!(lua.load("local x = 4 return x * x").eval::<i32>().unwrap(), 16);
    /// ```
    pub fn eval<R: FromLuaMulti>(self) -> Result<R> {
        let is_text = self.source.first() != Some(&0x1b);
        if is_text {
            let mut expr = b"return ".to_vec();
            expr.extend_from_slice(&self.source);
            if let Ok(f) = self.compile(&expr) {
                return f.call(());
            }
        }
        self.call(())
    }
}
