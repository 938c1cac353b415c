//! Compiles `csrc/fused_adamw.cpp` against the libtorch that torch-sys links (its
//! `DEP_TCH_LIBTORCH_LIB` is `<libtorch>/lib`; headers sit in `<libtorch>/include`), and
//! embeds that `lib/` dir as an rpath like every other libtorch crate
//! (`build/rpath.rs`).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=csrc/fused_adamw.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let lib = PathBuf::from(
        std::env::var("DEP_TCH_LIBTORCH_LIB")
            .expect("torch-sys did not report its libtorch lib dir (DEP_TCH_LIBTORCH_LIB)"),
    );
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    let root = lib
        .parent()
        .expect("the libtorch lib dir has a parent")
        .to_path_buf();
    // torch-sys's default; PyTorch wheels since 2.x are built with the C++11 ABI.
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(root.join("include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file("csrc/fused_adamw.cpp")
        .compile("lrdist_fused_adamw");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}
