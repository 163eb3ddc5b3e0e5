//! The ABI's names and signatures (ABI.md), and the checks of a module against them.

use wasmi::ValType::{self, F64, I32, I64};

use super::{Limits, WasmError};

/// The import module of every host function.
pub const MODULE: &str = "stratus";

/// The host functions, in a fixed order (an [`ImportSet`] bit each).
pub const IMPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("param_int", &[I32, I32], &[I64]),
    ("param_num", &[I32, I32], &[F64]),
    ("param_dec", &[I32, I32, I32], &[]),
    ("symbol_count", &[], &[I32]),
    ("symbol_name", &[I32, I32, I32], &[I32]),
    ("timeframe_count", &[], &[I32]),
    ("timeframe", &[I32], &[I64]),
    ("indicator", &[I32, I64, I32, I32], &[I32]),
    ("indicator_value", &[I32, I32], &[F64]),
    ("now", &[], &[I64]),
    ("cash", &[I32], &[]),
    ("equity", &[I32], &[I32]),
    ("position", &[I32, I32], &[]),
    ("last_price", &[I32, I32], &[I32]),
    ("open_orders", &[I32], &[I32]),
    ("submit", &[I32], &[]),
    ("cancel", &[I32], &[]),
    ("log", &[I32, I32], &[]),
    ("fail", &[I32, I32], &[]),
];

/// The exports: (name, params, results, required).
pub const EXPORTS: &[(&str, &[ValType], &[ValType], bool)] = &[
    ("stratus_alloc", &[I32], &[I32], true),
    ("stratus_init", &[], &[], true),
    (
        "stratus_on_candle",
        &[I32, I64, I64, F64, F64, F64, F64, F64],
        &[],
        true,
    ),
    ("stratus_snapshot", &[], &[I64], true),
    ("stratus_restore", &[I32, I32], &[], true),
    ("stratus_on_tick", &[I32, I64, F64, F64], &[], false),
    (
        "stratus_on_fill",
        &[I32, I32, I64, I32, I64, I32, I64, I32, I64, I64, I64],
        &[],
        false,
    ),
    ("stratus_on_timer", &[I64], &[], false),
];

/// Which host functions a module imports: the per-callback view copies only what they
/// read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSet(u32);

impl ImportSet {
    pub fn has(self, name: &str) -> bool {
        IMPORTS
            .iter()
            .position(|(n, ..)| *n == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    fn add(&mut self, index: usize) {
        self.0 |= 1 << index;
    }
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |v: &[ValType]| {
        v.iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

/// Every import is one of the ABI's functions with its signature.
pub fn check_imports(module: &wasmi::Module) -> Result<ImportSet, WasmError> {
    let mut set = ImportSet::default();
    for import in module.imports() {
        let what = format!("{}.{}", import.module(), import.name());
        let Some(func) = import.ty().func() else {
            return Err(WasmError::Import(format!(
                "imports {what}, which is not a function; a module defines its own memory, tables and globals"
            )));
        };
        let known = (import.module() == MODULE)
            .then(|| IMPORTS.iter().position(|(n, ..)| *n == import.name()))
            .flatten();
        let Some(index) = known else {
            return Err(WasmError::Import(format!(
                "imports {what}, which is not part of the Stratus ABI (module `stratus`: {})",
                IMPORTS
                    .iter()
                    .map(|(n, ..)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let (_, params, results) = IMPORTS[index];
        if func.params() != params || func.results() != results {
            return Err(WasmError::Import(format!(
                "imports {what} as {}; the ABI's is {}",
                signature(func.params(), func.results()),
                signature(params, results)
            )));
        }
        set.add(index);
    }
    Ok(set)
}

/// The required exports are there with their signatures (and the optional ones, if
/// there, have theirs); the memory fits the cap.
pub fn check_exports(module: &wasmi::Module, limits: &Limits) -> Result<(), WasmError> {
    let mut memory = None;
    for export in module.exports() {
        if export.name() == "memory" {
            memory = export.ty().memory().copied();
        }
    }
    let memory = memory.ok_or_else(|| {
        WasmError::Export("the module does not export its memory as `memory`".into())
    })?;
    let declared = memory.minimum().saturating_mul(64 * 1024);
    if declared > limits.max_memory_bytes as u64 {
        return Err(WasmError::Memory {
            declared,
            limit: limits.max_memory_bytes,
        });
    }
    for (name, params, results, required) in EXPORTS {
        let found = module.exports().find(|e| e.name() == *name);
        match found.as_ref().map(|e| e.ty().func()) {
            None if *required => {
                return Err(WasmError::Export(format!(
                    "the module does not export `{name}`, which the ABI requires"
                )));
            }
            None => {}
            Some(None) => {
                return Err(WasmError::Export(format!("`{name}` is not a function")));
            }
            Some(Some(f)) if f.params() != *params || f.results() != *results => {
                return Err(WasmError::Export(format!(
                    "exports `{name}` as {}; the ABI's is {}",
                    signature(f.params(), f.results()),
                    signature(params, results)
                )));
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}
