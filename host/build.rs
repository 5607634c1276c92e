//! Embeds what `weft new` writes into a project: the templates, each
//! language's SDK and the WIT package, so the binary needs nothing else.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// (directory under the repository root, file suffixes to take).
const TREES: &[(&str, &[&str])] = &[
    ("templates", &[""]),
    ("wit", &[".wit"]),
    ("guest-sdk/rust/src", &[".rs"]),
    ("guest-sdk/python/weft", &[".py"]),
    ("guest-sdk/js/src", &[".js", ".d.ts"]),
    // The test environments travel with new projects too.
    // The rest of each SDK package, so `weft sdk` writes whole packages.
    (
        "guest-sdk/python",
        &[
            "weft_worker.py",
            "weft_testing.py",
            "pyproject.toml",
            "README.md",
        ],
    ),
    (
        "guest-sdk/js",
        &[
            "weft-testing.mjs",
            "weft-testing.d.mts",
            "package.json",
            "README.md",
        ],
    ),
    ("guest-sdk/rust", &["README.md"]),
    ("guest-sdk/rust-testing/src", &[".rs"]),
];

fn main() {
    // Read when the script runs, not when it was compiled: one script
    // binary serves every checkout that shares a target directory
    // (`CARGO_TARGET_DIR`), and one baked with another checkout's path
    // embedded that checkout's files (none, once it was removed).
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest)
        .parent()
        .expect("the host crate sits in the repository")
        .to_path_buf();
    let mut files = Vec::new();
    for (dir, suffixes) in TREES {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        walk(&base, &mut |p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let skip = name.ends_with(".pyc") || (name.starts_with('.') && name != ".gitignore");
            if !skip && suffixes.iter().any(|s| name.ends_with(s)) {
                files.push(p.to_path_buf());
            }
        });
    }
    files.sort();
    files.dedup();
    let mut out = String::from("/// (path under the repository root, contents).\n");
    out.push_str("pub static FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let rel = f.strip_prefix(&root).expect("under the root");
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            rel.to_string_lossy().replace('\\', "/"),
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    std::fs::write(dest, out).expect("writing embedded.rs");
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "node_modules"
                && name != "__pycache__"
                && name != "target"
                && name != "build"
            {
                println!("cargo:rerun-if-changed={}", p.display());
                walk(&p, f);
            }
        } else {
            f(&p);
        }
    }
}
