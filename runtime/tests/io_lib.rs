//! The io library from the embedder's side: standard output is the state's writer,
//! files left open are flushed and closed with the state, huge read counts cost only
//! what the file holds.

use moonjet_runtime::vm::State;

mod common;
use common::Captured;

fn run(st: &mut State, src: &str) {
    if let Err(e) = st.exec(src.as_bytes(), b"=test") {
        let msg = st.display_value(e);
        panic!("{}", String::from_utf8_lossy(&msg));
    }
}

fn captured_state() -> (Box<State>, Captured) {
    let mut st = State::new();
    let out = Captured::default();
    st.out = Box::new(out.clone());
    (st, out)
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("moonjet-io-{tag}-{}", std::process::id()))
}

#[test]
fn print_and_io_write_share_the_writer() {
    let (mut st, out) = captured_state();
    run(
        &mut st,
        r#"print("a") io.write("b", 1, "\n") io.stdout:write("c\n") print("d")
           io.output(io.stdout) io.write(2.5, "\n")"#,
    );
    assert_eq!(&*out.0.borrow(), b"a\nb1\nc\nd\n2.5\n");
}

#[test]
fn huge_counts_read_what_is_there() {
    let path = temp_path("huge");
    std::fs::write(&path, b"0123456789").unwrap();
    let (mut st, out) = captured_state();
    let src = format!(
        r#"local f = io.open({:?}, "rb")
           print(f:read(2^40)) print(f:read(2^40))
           f:seek("set", 2) print(f:read(-1)) print(f:read(2^31, 1))
           f:close()"#,
        path.to_str().unwrap()
    );
    run(&mut st, &src);
    assert_eq!(&*out.0.borrow(), b"0123456789\nnil\n23456789\nnil\n");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn dropping_the_state_flushes_and_closes_open_files() {
    let path = temp_path("drop");
    let (mut st, _out) = captured_state();
    let src = format!(
        r#"local f = io.open({:?}, "w") f:write("kept ", 42) keep = f"#,
        path.to_str().unwrap()
    );
    run(&mut st, &src);
    drop(st);
    assert_eq!(std::fs::read(&path).unwrap(), b"kept 42");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn closed_handles_stay_closed_when_slots_are_reused() {
    let (mut st, out) = captured_state();
    run(
        &mut st,
        r#"local a = io.tmpfile() a:close()
           local b = io.tmpfile()
           print(io.type(a), io.type(b), pcall(a.read, a))
           b:close()"#,
    );
    assert_eq!(
        &*out.0.borrow(),
        b"closed file\tfile\tfalse\tattempt to use a closed file\n"
    );
}
