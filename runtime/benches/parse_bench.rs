//! `cargo bench -p moonjet-runtime --bench parse_bench`: front-end speed in MB/s on a
//! generated source of ordinary functions (locals, tables, loops, strings, calls).
//! `--write FILE` saves the source (to time other engines on the same text).

use std::hint::black_box;
use std::time::Instant;

/// About `target` bytes of varied, ordinary Lua.
pub fn generate(target: usize) -> String {
    let mut s = String::with_capacity(target + 4096);
    let mut i = 0usize;
    while s.len() < target {
        s.push_str(&format!(
            r#"do
local function process_{i}(items, limit, name)
  local total, count = 0, 0
  local seen = {{}}
  for idx = 1, #items do
    local item = items[idx]
    if item.value > limit and not seen[item.key] then
      total = total + item.value * 2.5 - (idx % 3)
      count = count + 1
      seen[item.key] = true
    elseif item.kind == "skip" then
      -- nothing to do for skipped items
    else
      total = total - 1
    end
  end
  local report = {{ name = name, total = total, count = count, ratio = count / #items }}
  for k, v in pairs(report) do
    report[k] = tostring(v) .. "_{i}"
  end
  while count > 0 do
    count = count - 1
    if count % 7 == 0 then break end
  end
  return report, string.format("%s: %d items", name, count)
end
M.process_{i} = process_{i}
end
"#
        ));
        i += 1;
    }
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let src = generate(3 << 20);
    if let Some(p) = args.iter().position(|a| a == "--write") {
        std::fs::write(&args[p + 1], format!("local M = {{}}\n{src}return M\n")).unwrap();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick" || a == "--test");
    // `--file PATH [--read-only]`: compile that file once (for instruction counts).
    if let Some(p) = args.iter().position(|a| a == "--file") {
        let text = std::fs::read(&args[p + 1]).unwrap();
        if !args.iter().any(|a| a == "--read-only") {
            black_box(moonjet_runtime::parse::parse(black_box(&text), b"=bench").unwrap());
        }
        return;
    }
    let src = format!("local M = {{}}\n{src}return M\n");
    let runs = if quick { 1 } else { 10 };
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t0 = Instant::now();
        let pt = moonjet_runtime::parse::parse(black_box(src.as_bytes()), b"=bench").unwrap();
        best = best.min(t0.elapsed().as_secs_f64());
        // Freeing the result is not part of compiling (luajit's collector does it later).
        drop(black_box(pt));
    }
    println!(
        "parse+compile {:.1} MB source: {:.1} MB/s",
        src.len() as f64 / 1e6,
        src.len() as f64 / 1e6 / best
    );
}
