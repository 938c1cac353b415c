//! Shared build script for every crate that links libtorch: embeds torch's `lib/` dir as
//! an rpath so binaries, tests and benches run without `LD_LIBRARY_PATH`.
pub fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
