//! The C ABIs a type table can lay types out for.

/// A target ABI. Both are LP64 with 16-byte `long double`; they differ in the
/// signedness of `char` and `wchar_t`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    /// x86-64 System V (Linux, BSD, macOS).
    X86_64SysV,
    /// AArch64 AAPCS64 (Linux).
    Aarch64,
}

impl Target {
    /// The target this library was compiled for (x86-64 SysV on anything that is not
    /// aarch64).
    pub fn host() -> Target {
        if cfg!(target_arch = "aarch64") {
            Target::Aarch64
        } else {
            Target::X86_64SysV
        }
    }

    /// `char` is unsigned on AArch64 (AAPCS64), signed on x86-64.
    pub fn char_is_unsigned(self) -> bool {
        self == Target::Aarch64
    }

    /// `wchar_t` is `unsigned int` on AArch64 Linux, `int` on x86-64.
    pub fn wchar_is_unsigned(self) -> bool {
        self == Target::Aarch64
    }

    pub fn pointer_size(self) -> u32 {
        8
    }

    /// Size and alignment of `long double` (80-bit x87 in 16 bytes, or IEEE quad).
    pub fn long_double_size(self) -> u32 {
        16
    }

    /// The largest alignment of any basic type; `__attribute__((aligned))` without an
    /// argument uses it.
    pub fn max_align(self) -> u32 {
        16
    }

    /// `ffi.arch` for this target.
    pub fn arch_name(self) -> &'static str {
        match self {
            Target::X86_64SysV => "x64",
            Target::Aarch64 => "arm64",
        }
    }
}

impl Default for Target {
    fn default() -> Target {
        Target::host()
    }
}
