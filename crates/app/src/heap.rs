//! The process's heap: glibc keeps memory libtorch frees for the next allocation instead of
//! handing it back to the kernel and faulting it in again (`M_TOP_PAD`, `M_MMAP_MAX`).
//!
//! Why: a training step allocates and frees the same large temporaries every step (the
//! gradients, AdamW's update, and for EWC and L2-SP the penalty's `theta - theta*`, its
//! square and their products over all 22.7M encoder parameters). glibc serves allocations
//! that large with `mmap` and returns them with `munmap` when freed, so every step touches
//! fresh pages: the kernel zero-fills each on first write. Two settings stop that:
//!
//! - a top pad: glibc grows the heap in 1 GiB steps and keeps that much freed space at its
//!   top instead of trimming it, so the next step reuses it;
//! - no `mmap` blocks (`M_MMAP_MAX` = 0): every allocation comes from the heap. glibc sends
//!   blocks of 128 KiB and more to `mmap` once a top pad is set (setting it fixes the mmap
//!   threshold at its default), and blocks over 32 MiB always (the word embeddings'
//!   30522 x 384 floats are 47 MB), so the pad alone leaves the largest temporaries faulting.
//!
//! Arithmetic is unchanged (the same kernels on the same values, only at other addresses):
//! the regress cases give bit-identical scores either way. `make bench-heap` measures it
//! (`results/bench/heap.json`: seconds, CPU seconds, page faults and peak memory of
//! one-thread quick runs with glibc's defaults, the pad alone and both).
//!
//! `LRDIST_TOP_PAD` overrides the pad: a size in bytes, or `off` to leave glibc's heap as
//! glibc sets it (both settings). glibc's own settings are left as the user set them:
//! `MALLOC_TOP_PAD_` or `glibc.malloc.top_pad` in `GLIBC_TUNABLES` for the pad,
//! `MALLOC_MMAP_MAX_` or `glibc.malloc.mmap_max` for the `mmap` blocks.

use anyhow::{bail, Result};

/// The top pad lrdist sets unless told otherwise: 1 GiB, larger than the biggest set of
/// temporaries a step frees (a few copies of the 91 MB encoder), far below the memory of
/// the machines it runs on. Pages of the pad that are never written cost no memory.
pub const DEFAULT_TOP_PAD: usize = 1 << 30;

/// What [`configure`] does to the heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapSetting {
    /// Set glibc's `M_TOP_PAD` to `top_pad` bytes (unless `None`: the user's glibc setting
    /// stays) and, if `no_mmap`, `M_MMAP_MAX` to 0.
    Set {
        top_pad: Option<usize>,
        no_mmap: bool,
    },
    /// Leave glibc as it is, for this reason.
    Leave(&'static str),
}

/// The heap variables [`heap_setting`] reads, as found in the environment.
#[derive(Clone, Debug, Default)]
pub struct HeapEnv<'a> {
    /// `LRDIST_TOP_PAD`: bytes, or `off`.
    pub lrdist_top_pad: Option<&'a str>,
    /// glibc's `MALLOC_TOP_PAD_`.
    pub malloc_top_pad: Option<&'a str>,
    /// glibc's `MALLOC_MMAP_MAX_`.
    pub malloc_mmap_max: Option<&'a str>,
    /// glibc's `GLIBC_TUNABLES`.
    pub glibc_tunables: Option<&'a str>,
}

/// Decides the heap setting from the environment's heap variables. A malformed
/// `LRDIST_TOP_PAD` is an error naming the variable.
pub fn heap_setting(env: &HeapEnv) -> Result<HeapSetting> {
    let tunable = |name: &str| env.glibc_tunables.is_some_and(|t| t.contains(name));
    let top_pad = match env.lrdist_top_pad.map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("off") => {
            return Ok(HeapSetting::Leave("LRDIST_TOP_PAD=off"))
        }
        Some(v) => match v.parse::<usize>() {
            Ok(bytes) => Some(bytes),
            Err(_) => {
                bail!("LRDIST_TOP_PAD={v:?}: expected a size in bytes (e.g. 1073741824) or `off`")
            }
        },
        None if env.malloc_top_pad.is_some() || tunable("glibc.malloc.top_pad") => None,
        None => Some(DEFAULT_TOP_PAD),
    };
    let no_mmap = env.malloc_mmap_max.is_none() && !tunable("glibc.malloc.mmap_max");
    if top_pad.is_none() && !no_mmap {
        return Ok(HeapSetting::Leave(
            "glibc's own top pad and mmap settings are set",
        ));
    }
    Ok(HeapSetting::Set { top_pad, no_mmap })
}

/// Applies [`heap_setting`] of this process's environment. Call once at start, before
/// libtorch allocates. On a C library other than glibc it does nothing.
pub fn configure() -> Result<HeapSetting> {
    let var = |name: &str| std::env::var(name).ok();
    let (lrdist_top_pad, malloc_top_pad, malloc_mmap_max, glibc_tunables) = (
        var("LRDIST_TOP_PAD"),
        var("MALLOC_TOP_PAD_"),
        var("MALLOC_MMAP_MAX_"),
        var("GLIBC_TUNABLES"),
    );
    let setting = heap_setting(&HeapEnv {
        lrdist_top_pad: lrdist_top_pad.as_deref(),
        malloc_top_pad: malloc_top_pad.as_deref(),
        malloc_mmap_max: malloc_mmap_max.as_deref(),
        glibc_tunables: glibc_tunables.as_deref(),
    })?;
    if let HeapSetting::Set { top_pad, no_mmap } = setting {
        if let Some(bytes) = top_pad {
            set_top_pad(bytes)?;
        }
        if no_mmap {
            set_no_mmap()?;
        }
    }
    Ok(setting)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_top_pad(bytes: usize) -> Result<()> {
    let Ok(value) = libc::c_int::try_from(bytes) else {
        bail!(
            "LRDIST_TOP_PAD={bytes}: glibc takes at most {} bytes",
            libc::c_int::MAX
        );
    };
    mallopt(libc::M_TOP_PAD, value, "M_TOP_PAD")
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_no_mmap() -> Result<()> {
    mallopt(libc::M_MMAP_MAX, 0, "M_MMAP_MAX")
}

/// Sets one of glibc's malloc parameters, or fails naming it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn mallopt(param: libc::c_int, value: libc::c_int, name: &str) -> Result<()> {
    // SAFETY: mallopt only updates malloc's parameters; it is called before other threads
    // allocate (start of main) and glibc serialises it with the arena lock anyway.
    let ok = unsafe { libc::mallopt(param, value) };
    if ok != 1 {
        bail!("glibc refused mallopt({name}, {value})");
    }
    Ok(())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_top_pad(_bytes: usize) -> Result<()> {
    Ok(())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_no_mmap() -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(env: HeapEnv) -> HeapSetting {
        heap_setting(&env).unwrap()
    }

    const BOTH: HeapSetting = HeapSetting::Set {
        top_pad: Some(DEFAULT_TOP_PAD),
        no_mmap: true,
    };

    #[test]
    fn default_is_the_one_gib_pad_and_no_mmap() {
        assert_eq!(setting(HeapEnv::default()), BOTH);
        let tunables = HeapEnv {
            glibc_tunables: Some("glibc.malloc.arena_max=2"),
            ..HeapEnv::default()
        };
        assert_eq!(setting(tunables), BOTH);
    }

    #[test]
    fn lrdist_top_pad_overrides_and_can_turn_it_off() {
        let env = HeapEnv {
            lrdist_top_pad: Some("4096"),
            malloc_top_pad: Some("1"),
            ..HeapEnv::default()
        };
        assert_eq!(
            setting(env),
            HeapSetting::Set {
                top_pad: Some(4096),
                no_mmap: true
            }
        );
        let off = HeapEnv {
            lrdist_top_pad: Some(" OFF "),
            ..HeapEnv::default()
        };
        assert!(matches!(setting(off), HeapSetting::Leave(_)));
        let bad = HeapEnv {
            lrdist_top_pad: Some("1G"),
            ..HeapEnv::default()
        };
        let err = heap_setting(&bad).unwrap_err().to_string();
        assert!(
            err.contains("LRDIST_TOP_PAD") && err.contains("off"),
            "{err}"
        );
    }

    #[test]
    fn glibc_settings_of_the_user_are_left_alone() {
        let pad = HeapEnv {
            malloc_top_pad: Some("0"),
            ..HeapEnv::default()
        };
        assert_eq!(
            setting(pad),
            HeapSetting::Set {
                top_pad: None,
                no_mmap: true
            }
        );
        let mmap = HeapEnv {
            malloc_mmap_max: Some("65536"),
            ..HeapEnv::default()
        };
        assert_eq!(
            setting(mmap),
            HeapSetting::Set {
                top_pad: Some(DEFAULT_TOP_PAD),
                no_mmap: false
            }
        );
        let tunables = HeapEnv {
            glibc_tunables: Some("glibc.malloc.top_pad=65536:glibc.malloc.mmap_max=8"),
            ..HeapEnv::default()
        };
        assert!(matches!(setting(tunables), HeapSetting::Leave(_)));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_settings() {
        set_top_pad(DEFAULT_TOP_PAD).unwrap();
        assert!(set_top_pad(usize::MAX).is_err());
        set_no_mmap().unwrap();
        // A block far above glibc's mmap threshold still allocates, now from the heap.
        let block = vec![1u8; 64 << 20];
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), 64 << 20);
    }
}
