//! The interactive mode. It reads and runs input as luajit's does: prompts `> ` and `>> `
//! (or the globals `_PROMPT`/`_PROMPT2`), `=expr` prints values, and a statement whose
//! syntax error ends at `'<eof>'` continues on the next line. Beyond luajit: an expression
//! typed without `=` prints its values too (`return <line>` is tried first, as Lua 5.3's
//! REPL does), and on a terminal there is line editing, history kept in
//! `~/.moonjet_history`, and Tab completion of globals and table fields. From a pipe it
//! reads plain lines and writes no escape codes.

use crate::{call_top, load, report};
use moonjet_gc::{table, GcStr, GcTab, TValue};
use moonjet_runtime::vm::State;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal, Write};

/// `JIT: ON ...` / `JIT: OFF`, from `jit.status()`, as luajit prints it before the REPL.
pub fn print_jit_status(st: &mut State) {
    let status = crate::global_field(st, b"jit", b"status");
    let mut line = String::from("JIT:");
    if status.is_func() && st.push(status).is_ok() {
        if let Ok(n) = call_top(st, &[]) {
            for i in (1..=n).rev() {
                // SAFETY: the call left `n` results on top.
                let v = unsafe { *st.top().sub(i) };
                if i == n {
                    line.push_str(if v.is_truthy() { " ON" } else { " OFF" });
                } else if v.is_str() {
                    line.push(' ');
                    line.push_str(&String::from_utf8_lossy(&st.display_value(v)));
                }
            }
            st.pop(n);
        }
    }
    line.push('\n');
    let _ = st.out.write_all(line.as_bytes());
}

/// What reading a line gave.
enum Line {
    Text(Vec<u8>),
    /// Ctrl-C at the prompt: drop the input typed so far.
    Cancelled,
    End,
}

/// Where input lines come from.
trait LineSource {
    /// The next line (without its newline).
    fn read_line(&mut self, prompt: &str, st: &RefCell<&mut State>) -> Line;
    /// A complete input was run (for history).
    fn accepted(&mut self, _input: &[u8]) {}
}

/// Plain reading from a pipe or file: the prompt on stdout, then a line from stdin.
struct Plain;

impl LineSource for Plain {
    fn read_line(&mut self, prompt: &str, st: &RefCell<&mut State>) -> Line {
        st.borrow_mut().flush();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(prompt.as_bytes());
        let _ = out.flush();
        let mut line = Vec::new();
        match std::io::stdin().lock().read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => Line::End,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Line::Text(line)
            }
        }
    }
}

/// Line editing on a terminal.
struct Terminal<'a> {
    editor: Editor<LuaHelper<'a>, DefaultHistory>,
    history: Option<std::path::PathBuf>,
}

impl<'a> Terminal<'a> {
    fn new(st: &'a RefCell<&'a mut State>) -> Option<Terminal<'a>> {
        // Tab completes the common prefix, a second Tab lists the candidates (as shells).
        let config = rustyline::Config::builder()
            .completion_type(rustyline::CompletionType::List)
            .history_ignore_dups(true)
            .ok()?
            .max_history_size(1000)
            .ok()?
            .build();
        let mut editor = Editor::<LuaHelper, DefaultHistory>::with_config(config).ok()?;
        editor.set_helper(Some(LuaHelper { st }));
        let history = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| std::path::Path::new(&h).join(".moonjet_history"));
        if let Some(h) = &history {
            // A missing or unreadable history file just means no history.
            let _ = editor.load_history(h);
        }
        Some(Terminal { editor, history })
    }
}

impl LineSource for Terminal<'_> {
    fn read_line(&mut self, prompt: &str, st: &RefCell<&mut State>) -> Line {
        st.borrow_mut().flush();
        match self.editor.readline(prompt) {
            Ok(line) => Line::Text(line.into_bytes()),
            Err(ReadlineError::Interrupted) => Line::Cancelled,
            Err(_) => Line::End,
        }
    }

    fn accepted(&mut self, input: &[u8]) {
        let text = String::from_utf8_lossy(input);
        if !text.trim().is_empty() {
            let _ = self.editor.add_history_entry(text.as_ref());
        }
    }
}

impl Drop for Terminal<'_> {
    fn drop(&mut self) {
        if let Some(h) = &self.history {
            let _ = self.editor.save_history(h);
        }
    }
}

/// The prompt: the global `_PROMPT` (first line) or `_PROMPT2`, if a string or number.
fn prompt(st: &mut State, first: bool) -> String {
    let name: &[u8] = if first { b"_PROMPT" } else { b"_PROMPT2" };
    match st.get_global(name) {
        Ok(v) if v.is_str() || v.is_number() => {
            String::from_utf8_lossy(&st.display_value(v)).into_owned()
        }
        _ => if first { "> " } else { ">> " }.to_string(),
    }
}

/// A syntax error that only says the input ended too early.
fn incomplete(st: &mut State, e: TValue) -> bool {
    e.is_str() && st.display_value(e).ends_with(b"'<eof>'")
}

/// What the user entered.
enum Input {
    /// A complete input, loaded (the function is on the stack) or its syntax error.
    Chunk(Result<(), TValue>),
    /// Input dropped with Ctrl-C.
    Cancelled,
    End,
}

/// Read one complete input and load it.
fn read_chunk(src: &mut dyn LineSource, cell: &RefCell<&mut State>) -> Input {
    let p = prompt(&mut cell.borrow_mut(), true);
    let first = match src.read_line(&p, cell) {
        Line::Text(t) => t,
        Line::Cancelled => return Input::Cancelled,
        Line::End => return Input::End,
    };
    // What the user typed, for the history.
    let mut input = first.clone();
    let mut code = match first.strip_prefix(b"=") {
        Some(rest) => [&b"return "[..], rest].concat(),
        None => {
            // An expression prints its values: try the line as one first. Its calls are
            // made as arguments of a pass-through function, not as a tail call, so errors
            // in them keep their position and function names ("stdin:1: ...").
            let as_return = [
                &b"return (function(...) return ... end)("[..],
                &first,
                b"\n)",
            ]
            .concat();
            if load(&mut cell.borrow_mut(), &as_return, b"=stdin").is_ok() {
                src.accepted(&input);
                return Input::Chunk(Ok(()));
            }
            first
        }
    };
    loop {
        let r = load(&mut cell.borrow_mut(), &code, b"=stdin");
        match r {
            Err(e) if incomplete(&mut cell.borrow_mut(), e) => {
                let p = prompt(&mut cell.borrow_mut(), false);
                let more = match src.read_line(&p, cell) {
                    Line::Text(t) => t,
                    Line::Cancelled => return Input::Cancelled,
                    Line::End => return Input::End,
                };
                for text in [&mut code, &mut input] {
                    text.push(b'\n');
                    text.extend_from_slice(&more);
                }
            }
            r => {
                src.accepted(&input);
                return Input::Chunk(r);
            }
        }
    }
}

/// Print `n` results on top of the stack with the global `print`, as luajit does.
fn print_results(st: &mut State, n: usize) {
    let print = st.get_global(b"print").unwrap_or(TValue::NIL);
    if st.push(TValue::NIL).is_err() {
        st.pop(n);
        return;
    }
    // SAFETY: [results...] [nil] -> [print] [results...]: all slots are below top.
    unsafe {
        let top = st.top();
        let first = top.sub(n + 1);
        std::ptr::copy(first, first.add(1), n);
        *first = print;
    }
    if let Err(e) = st.pcall(n, 0) {
        let msg = String::from_utf8_lossy(&st.display_value(e)).into_owned();
        st.flush();
        eprintln!("error calling 'print' ({msg})");
    }
}

/// Run the interactive loop until the end of input.
pub fn run(st: &mut State) {
    let cell = RefCell::new(st);
    let mut terminal;
    let mut plain = Plain;
    let src: &mut dyn LineSource = if std::io::stdin().is_terminal() {
        terminal = Terminal::new(&cell);
        match terminal.as_mut() {
            Some(t) => t,
            None => &mut plain,
        }
    } else {
        &mut plain
    };
    loop {
        let loaded = match read_chunk(src, &cell) {
            Input::Chunk(r) => r,
            Input::Cancelled => continue,
            Input::End => break,
        };
        let mut guard = cell.borrow_mut();
        let st: &mut State = &mut guard;
        match loaded.and_then(|()| call_top(st, &[])) {
            Ok(0) => {}
            Ok(n) => print_results(st, n),
            Err(e) => report(st, e, None),
        }
        st.flush();
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

// ---- completion -----------------------------------------------------------------------

struct LuaHelper<'a> {
    st: &'a RefCell<&'a mut State>,
}

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// The raw string-keyed entries of `t`: (key, value).
fn string_entries(t: *mut GcTab) -> Vec<(Vec<u8>, TValue)> {
    let mut out = Vec::new();
    let mut k = TValue::NIL;
    // SAFETY: `t` is a live table of a state that runs no code while we look.
    while let Ok(Some((key, v))) = unsafe { table::next(t, k) } {
        if let Some(s) = key.as_str() {
            // SAFETY: a live string key.
            out.push((unsafe { GcStr::bytes(s) }.to_vec(), v));
        }
        k = key;
    }
    out
}

/// Field `name` of table `t`, following `__index` tables (never running code).
fn field(t: *mut GcTab, name: &[u8]) -> Option<TValue> {
    let mut t = t;
    for _ in 0..16 {
        let entries = string_entries(t);
        if let Some((_, v)) = entries.iter().find(|(k, _)| k == name) {
            return Some(*v);
        }
        // SAFETY: a live table; its metatable is null or live.
        let mt = unsafe { (*t).metatable };
        if mt.is_null() {
            return None;
        }
        t = string_entries(mt)
            .into_iter()
            .find(|(k, _)| k == b"__index")?
            .1
            .as_tab()?;
    }
    None
}

/// Identifier-like keys of `t` (and of its `__index` tables), for completion.
fn field_names(t: *mut GcTab, methods_only: bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut t = t;
    for _ in 0..16 {
        for (k, v) in string_entries(t) {
            let ident = k
                .first()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                && k.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
            if ident && (!methods_only || v.is_func()) {
                names.push(String::from_utf8_lossy(&k).into_owned());
            }
        }
        // SAFETY: as in `field`.
        let mt = unsafe { (*t).metatable };
        if mt.is_null() {
            break;
        }
        match string_entries(mt)
            .into_iter()
            .find(|(k, _)| k == b"__index")
            .and_then(|(_, v)| v.as_tab())
        {
            Some(next) => t = next,
            None => break,
        }
    }
    names
}

/// Completions for the text before the cursor: the start of the word being completed and
/// the candidates for it.
fn complete_in(st: &State, before: &str) -> (usize, Vec<String>) {
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == ':'))
        .map_or(0, |i| i + 1);
    let expr = &before[start..];
    let (path, sep, partial) = match expr.rfind(['.', ':']) {
        Some(i) => (&expr[..i], &expr[i..i + 1], &expr[i + 1..]),
        None => ("", "", expr),
    };
    let word_start = before.len() - partial.len();
    let mut names: Vec<String> = if path.is_empty() {
        if !sep.is_empty() {
            return (word_start, Vec::new());
        }
        let mut n = field_names(st.globals, false);
        n.extend(KEYWORDS.iter().map(|k| k.to_string()));
        n
    } else {
        let mut t = Some(st.globals);
        for part in path.split(['.', ':']) {
            t = t
                .and_then(|t| field(t, part.as_bytes()))
                .and_then(|v| v.as_tab());
        }
        match t {
            Some(t) => field_names(t, sep == ":"),
            None => Vec::new(),
        }
    };
    names.retain(|n| n.starts_with(partial));
    names.sort();
    names.dedup();
    (word_start, names)
}

impl Completer for LuaHelper<'_> {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        match self.st.try_borrow() {
            Ok(st) => Ok(complete_in(&st, &line[..pos])),
            Err(_) => Ok((pos, Vec::new())),
        }
    }
}

impl Hinter for LuaHelper<'_> {
    type Hint = String;
}
impl Highlighter for LuaHelper<'_> {}
impl Validator for LuaHelper<'_> {}
impl Helper for LuaHelper<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn completions(code: &str, before: &str) -> (usize, Vec<String>) {
        let mut st = State::new();
        st.exec(code.as_bytes(), b"=test").unwrap();
        complete_in(&st, before)
    }

    #[test]
    fn completes_globals_fields_methods_and_keywords() {
        let setup = "obj = setmetatable({ field = 1 }, { __index = { method = function() end, value = 2 } })";
        assert_eq!(
            completions(setup, "x = str"),
            (4, vec!["string".to_string()])
        );
        assert_eq!(
            completions(setup, "string.up"),
            (7, vec!["upper".to_string()])
        );
        assert_eq!(completions(setup, "wh"), (0, vec!["while".to_string()]));
        assert_eq!(
            completions(setup, "print(obj."),
            (
                10,
                vec![
                    "field".to_string(),
                    "method".to_string(),
                    "value".to_string()
                ]
            )
        );
        assert_eq!(completions(setup, "obj:"), (4, vec!["method".to_string()]));
        assert_eq!(completions(setup, "nothing.he").1, Vec::<String>::new());
    }
}
