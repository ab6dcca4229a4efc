//! Type names as LuaJIT prints them (`tostring(ffi.typeof(...))` shows
//! `ctype<NAME>`, error messages quote NAME): `int *`, `const char *`, `int [3]`,
//! `struct foo`, `struct 99 *`, `int (*)()` (parameters are not shown).

use crate::ctype::{AttribKind, CTypeId, Flags, Kind, SIZE_INVALID};
use crate::table::CTypeTable;

impl CTypeTable {
    /// The name of a type, without LuaJIT's `ctype<...>` around it.
    pub fn type_name(&self, id: CTypeId) -> String {
        let mut declarator = String::new();
        let mut quals = Flags::NONE;
        let mut id = id;
        // Each step wraps the declarator; chains are as long as the parser allowed.
        loop {
            let ct = self.get(id);
            match ct.kind {
                Kind::Typedef
                | Kind::Attrib(_)
                | Kind::Field
                | Kind::Bitfield { .. }
                | Kind::ConstVal
                | Kind::Extern => {
                    if ct.kind == Kind::Attrib(AttribKind::Qual) {
                        quals |= ct.flags.qualifiers();
                    }
                    id = ct.child;
                }
                Kind::Ptr => {
                    let mut part = String::from(if ct.is_ref() { "&" } else { "*" });
                    push_qualifiers_after(&mut part, ct.flags);
                    if ct.size == 4 {
                        part.push_str("__ptr32");
                    }
                    if part.len() > 1 && !declarator.is_empty() {
                        part.push(' ');
                    }
                    part.push_str(&declarator);
                    declarator = part;
                    id = ct.child;
                }
                Kind::Array if !ct.is_complex() && !ct.is_vector() => {
                    if declarator.starts_with(['*', '&']) {
                        declarator = format!("({declarator})");
                    }
                    let elem_size = self.get(self.raw(ct.child)).size;
                    if ct.is_vla() {
                        declarator.push_str("[?]");
                    } else if ct.size == SIZE_INVALID {
                        declarator.push_str("[]");
                    } else {
                        let count = ct.size.checked_div(elem_size).unwrap_or(0);
                        declarator.push_str(&format!("[{count}]"));
                    }
                    id = ct.child;
                }
                Kind::Func(_) => {
                    if declarator.starts_with(['*', '&']) {
                        declarator = format!("({declarator})");
                    }
                    declarator.push_str("()");
                    id = ct.child;
                }
                _ => {
                    let mut name = String::new();
                    push_qualifiers_before(&mut name, quals | ct.flags);
                    name.push_str(&self.base_name(id));
                    if !declarator.is_empty() {
                        name.push(' ');
                        name.push_str(&declarator);
                    }
                    return name;
                }
            }
        }
    }

    /// Names of the types a declarator starts from: numbers, void, aggregates, enums,
    /// complex numbers and vectors.
    fn base_name(&self, id: CTypeId) -> String {
        let ct = self.get(id);
        match ct.kind {
            Kind::Void => "void".to_string(),
            Kind::Struct => {
                let keyword = if ct.is_union() { "union" } else { "struct" };
                match ct.name() {
                    Some(tag) => format!("{keyword} {tag}"),
                    None => format!("{keyword} {}", id.0),
                }
            }
            Kind::Enum => match ct.name() {
                Some(tag) => format!("enum {tag}"),
                None => format!("enum {}", id.0),
            },
            Kind::Array if ct.is_complex() => {
                if self.get(ct.child).size == 4 {
                    "complex float".to_string()
                } else {
                    "complex".to_string()
                }
            }
            Kind::Array => format!(
                "{} __attribute__((vector_size({})))",
                self.type_name(ct.child),
                ct.size
            ),
            Kind::Keyword(_) => ct.name().unwrap_or_default().to_string(),
            _ => num_name(ct.flags, ct.size).to_string(),
        }
    }
}

fn num_name(flags: Flags, size: u32) -> &'static str {
    if flags.contains(Flags::BOOL) {
        return "bool";
    }
    let unsigned = flags.contains(Flags::UNSIGNED);
    if flags.contains(Flags::FP) {
        return match size {
            4 => "float",
            8 => "double",
            _ => "long double",
        };
    }
    match (size, unsigned) {
        (1, false) => "char",
        (1, true) => "unsigned char",
        (2, false) => "short",
        (2, true) => "unsigned short",
        (4, false) => "int",
        (4, true) => "unsigned int",
        (8, false) => "int64_t",
        (8, true) => "uint64_t",
        (16, false) => "int128_t",
        (16, true) => "uint128_t",
        (_, false) => "int256_t",
        (_, true) => "uint256_t",
    }
}

fn push_qualifiers_before(out: &mut String, flags: Flags) {
    if flags.contains(Flags::CONST) {
        out.push_str("const ");
    }
    if flags.contains(Flags::VOLATILE) {
        out.push_str("volatile ");
    }
}

fn push_qualifiers_after(out: &mut String, flags: Flags) {
    if flags.contains(Flags::CONST) {
        out.push_str("const");
    }
    if flags.contains(Flags::VOLATILE) {
        if flags.contains(Flags::CONST) {
            out.push(' ');
        }
        out.push_str("volatile");
    }
}
