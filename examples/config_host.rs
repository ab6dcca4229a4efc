//! A host program configured by a Lua script: the script sets values (read into a Rust
//! struct) and defines a `route(req)` function the host calls for each request, with the
//! request passed as a userdata. The script runs sandboxed: safe libraries only, a memory
//! cap and a time limit.
//!
//! ```sh
//! cargo run --release --example config_host                     # examples/config.lua
//! cargo run --release --example config_host -- my-config.lua
//! ```

use moonjet::{
    Error, Function, Lua, LuaOptions, Result, StdLib, Table, UserData, UserDataFields,
    UserDataMethods,
};
use std::time::{Duration, Instant};

/// What the host reads from the script.
struct Settings {
    name: String,
    host: String,
    port: u16,
    workers: u32,
    upstreams: Vec<String>,
}

/// A request as the script sees it.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl UserData for Request {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("method", |_, r| Ok(r.method.clone()));
        fields.add_field_method_get("path", |_, r| Ok(r.path.clone()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("has_header", |_, r, name: String| {
            Ok(r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(&name)))
        });
    }
}

/// A sandboxed state with the host's API: `log(msg)`.
fn sandbox() -> Result<Lua> {
    let lua = Lua::new_with(StdLib::SAFE, LuaOptions::default())?;
    lua.set_memory_limit(16 << 20)?;
    let log = lua.create_function(|_, msg: String| {
        println!("[script] {msg}");
        Ok(())
    })?;
    lua.globals().set("log", log)?;
    Ok(lua)
}

/// Run `f` with a time limit on the Lua code it runs.
fn with_time_limit<R>(lua: &Lua, limit: Duration, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let deadline = Instant::now() + limit;
    lua.set_interrupt(move |_| {
        if Instant::now() > deadline {
            Err(Error::runtime("script took too long"))
        } else {
            Ok(())
        }
    });
    let r = f();
    lua.remove_interrupt();
    r
}

fn read_settings(lua: &Lua) -> Result<Settings> {
    let g = lua.globals();
    let listen: Table = g.get("listen")?;
    Ok(Settings {
        name: g.get("name")?,
        host: listen
            .get::<Option<String>>("host")?
            .unwrap_or_else(|| "127.0.0.1".into()),
        port: listen.get("port")?,
        workers: g.get::<Option<u32>>("workers")?.unwrap_or(1),
        upstreams: g.get("upstreams")?,
    })
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.lua").into());
    let source = std::fs::read_to_string(&path).map_err(Error::external)?;

    let lua = sandbox()?;
    with_time_limit(&lua, Duration::from_secs(1), || {
        lua.load(&source).set_name(format!("@{path}")).exec()
    })?;
    let settings = read_settings(&lua)?;
    println!(
        "{}: listening on {}:{} with {} workers, upstreams {:?}",
        settings.name, settings.host, settings.port, settings.workers, settings.upstreams
    );

    let route: Function = lua.globals().get("route")?;
    let requests = [
        ("GET", "/api/users", vec![]),
        ("GET", "/index.html", vec![]),
        ("DELETE", "/index.html", vec![]),
        (
            "DELETE",
            "/index.html",
            vec![("X-Admin".to_string(), "1".to_string())],
        ),
    ];
    for (method, path, headers) in requests {
        let req = Request {
            method: method.into(),
            path: path.into(),
            headers,
        };
        let (target, status): (Option<String>, Option<u16>) =
            with_time_limit(&lua, Duration::from_millis(100), || route.call(req))?;
        println!(
            "{method} {path} -> {} ({})",
            target.as_deref().unwrap_or("-"),
            status.unwrap_or(200)
        );
    }
    Ok(())
}
