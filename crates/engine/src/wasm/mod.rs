//! Users' own strategies: WebAssembly modules run in a sandbox (wasmi), driven through the
//! same [`Strategy`] trait as the built-ins. The contract is `ABI.md` beside this file.
//!
//! - [`inspect`] is the upload check: size cap, a valid module, imports only the ABI's
//!   functions with their signatures, the required exports, no start function, memory
//!   within the cap, and a well-formed declaration (name, summary, parameter schema).
//! - [`WasmModules`] is a [`StrategyFactory`]: built-in names go to the built-ins,
//!   `wasm:<id>` to a module it holds (compiled once, instantiated per deployment).
//! - [`host::WasmStrategy`] is one instance: its own store, memory cap and fuel budget
//!   per callback; a trap, an exhausted budget or a malformed order stops it with the
//!   reason ([`Strategy::fault`]) and nothing it asked for in that callback is carried out.
//!
//! Determinism: the module sees no clock but the engine's time, no randomness and no I/O;
//! wasmi's `deterministic` feature canonicalises NaNs, so a module gives the same orders
//! on every machine.

mod abi;
mod host;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde_json::Value;

pub use host::WasmStrategy;

use crate::strategy::params::{ParamDoc, ParamKind};
use crate::strategy::{self, Strategy, StrategyConfig, StrategyError, StrategyFactory};

/// The strategy name of a module: `wasm:<module id>`.
pub const PREFIX: &str = "wasm:";

/// The ABI version this host implements.
pub const ABI_VERSION: u32 = 1;

/// The custom section holding a module's declaration.
pub const DECLARATION_SECTION: &str = "stratus.strategy";

/// The module id of a strategy name, if it names a module.
pub fn module_id(strategy_name: &str) -> Option<&str> {
    strategy_name
        .strip_prefix(PREFIX)
        .filter(|id| !id.is_empty())
}

/// What a module may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_module_bytes: usize,
    pub max_memory_bytes: usize,
    /// Fuel (about one unit per instruction) for each callback.
    pub fuel_per_callback: u64,
    /// Fuel for `init` and for `restore`.
    pub fuel_init: u64,
    /// Call frames deep.
    pub max_call_depth: usize,
    pub max_orders_per_callback: usize,
    pub max_snapshot_bytes: usize,
    /// Fuel a deployment earns per second of engine time, into a bucket of `fuel_init`:
    /// a module may not keep every callback near its cap for long (the live core is one
    /// thread; backtests, whose time moves by bars, are not held back by it).
    pub fuel_per_second: u64,
    /// Indicators a module registers, and the sum of their periods.
    pub max_indicators: usize,
    pub max_indicator_periods: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_module_bytes: 1 << 20,
            max_memory_bytes: 32 << 20,
            fuel_per_callback: 20_000_000,
            fuel_init: 100_000_000,
            max_call_depth: 1024,
            max_orders_per_callback: 100,
            max_snapshot_bytes: 1 << 20,
            fuel_per_second: 20_000_000,
            max_indicators: 64,
            max_indicator_periods: 100_000,
        }
    }
}

/// A module as its declaration describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleInfo {
    pub name: String,
    pub summary: String,
    pub abi_version: u32,
    /// The parameters as one JSON Schema object, in the catalog's form.
    pub params_schema: Value,
    pub size: usize,
}

/// Why a module was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    #[error("the module is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly module (it does not start with \\0asm)")]
    NotWasm,
    #[error("invalid WebAssembly: {0}")]
    Invalid(String),
    #[error("{0}")]
    Import(String),
    #[error("{0}")]
    Export(String),
    #[error("the module has a start function; a strategy runs only through its callbacks")]
    StartFunction,
    #[error("the module declares {declared} bytes of memory; the limit is {limit}")]
    Memory { declared: u64, limit: usize },
    #[error("declaration (custom section `stratus.strategy`): {0}")]
    Declaration(String),
    #[error("cannot instantiate the module: {0}")]
    Instantiate(String),
}

/// A parameter as a module declares it (owned: [`ParamDoc`] borrows from it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeclaredParam {
    pub name: String,
    pub kind: ParamKind,
    pub default: String,
    pub help: String,
}

impl DeclaredParam {
    pub fn doc(&self) -> ParamDoc<'_> {
        ParamDoc {
            name: &self.name,
            kind: self.kind,
            default: &self.default,
            help: &self.help,
        }
    }
}

/// A module checked and compiled, ready to instantiate.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Its own engine: wasmi frees compiled code only with its engine, so a module
    /// dropped and loaded again in a long-running core must not grow a shared one.
    pub engine: wasmi::Engine,
    pub module: wasmi::Module,
    pub info: ModuleInfo,
    pub params: Vec<DeclaredParam>,
    pub imports: abi::ImportSet,
}

/// One wasmi engine configured for the sandbox.
fn sandbox_engine(limits: &Limits) -> wasmi::Engine {
    let mut config = wasmi::Config::default();
    config
        .consume_fuel(true)
        .allow_start_fn(false)
        .set_max_recursion_depth(limits.max_call_depth)
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false);
    wasmi::Engine::new(&config)
}

/// Checks and compiles a module (with an engine of its own).
fn compile(bytes: &[u8], limits: &Limits) -> Result<Compiled, WasmError> {
    if bytes.len() > limits.max_module_bytes {
        return Err(WasmError::TooLarge {
            size: bytes.len(),
            limit: limits.max_module_bytes,
        });
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(WasmError::NotWasm);
    }
    let engine = sandbox_engine(limits);
    let module = wasmi::Module::new(&engine, bytes).map_err(|e| {
        let message = e.to_string();
        // The engine refuses start functions (`allow_start_fn(false)`).
        if message.contains("disallows start functions") {
            WasmError::StartFunction
        } else {
            WasmError::Invalid(message)
        }
    })?;
    let imports = abi::check_imports(&module)?;
    abi::check_exports(&module, limits)?;
    let (info, params) = declaration(&module, bytes.len())?;
    Ok(Compiled {
        engine,
        module,
        info,
        params,
        imports,
    })
}

/// The module's declaration, read from its custom section.
fn declaration(
    module: &wasmi::Module,
    size: usize,
) -> Result<(ModuleInfo, Vec<DeclaredParam>), WasmError> {
    let bad = |m: String| WasmError::Declaration(m);
    let mut sections = module
        .custom_sections()
        .filter(|s| s.name() == DECLARATION_SECTION);
    let section = sections
        .next()
        .ok_or_else(|| bad("missing; the SDK's `export!` writes it".into()))?;
    if sections.next().is_some() {
        return Err(bad("present twice".into()));
    }
    if section.data().len() > 64 * 1024 {
        return Err(bad("larger than 64 KiB".into()));
    }
    let doc: Value =
        serde_json::from_slice(section.data()).map_err(|e| bad(format!("not JSON: {e}")))?;
    let abi = doc.get("abi").and_then(Value::as_u64);
    if abi != Some(u64::from(ABI_VERSION)) {
        return Err(bad(format!(
            "`abi` is {}; this host implements ABI {ABI_VERSION}",
            doc.get("abi")
                .map_or("missing".to_owned(), Value::to_string)
        )));
    }
    let text = |field: &str, max: usize| -> Result<String, WasmError> {
        let s = doc
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("`{field}` must be a string")))?
            .trim();
        if s.is_empty() || s.chars().count() > max {
            return Err(bad(format!("`{field}` must have 1 to {max} characters")));
        }
        Ok(s.to_owned())
    };
    let name = text("name", 80)?;
    let summary = text("summary", 500)?;
    let params = declared_params(doc.get("params").unwrap_or(&Value::Null)).map_err(bad)?;
    let docs: Vec<ParamDoc<'_>> = params.iter().map(DeclaredParam::doc).collect();
    let info = ModuleInfo {
        name,
        summary,
        abi_version: ABI_VERSION,
        params_schema: strategy::params::params_schema(&docs),
        size,
    };
    Ok((info, params))
}

/// The parameters of a declaration's schema (see ABI.md for the kinds accepted).
fn declared_params(schema: &Value) -> Result<Vec<DeclaredParam>, String> {
    let properties = match schema {
        Value::Null => return Ok(Vec::new()),
        Value::Object(o) => match o.get("properties") {
            None => return Ok(Vec::new()),
            Some(Value::Object(p)) => p,
            Some(_) => return Err("`params.properties` must be an object".into()),
        },
        _ => return Err("`params` must be a JSON Schema object".into()),
    };
    if properties.len() > 32 {
        return Err(format!(
            "{} parameters; at most 32 are allowed",
            properties.len()
        ));
    }
    let mut out = Vec::with_capacity(properties.len());
    for (name, p) in properties {
        let at = |m: &str| format!("parameter {name:?}: {m}");
        let valid_name = name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(at(
                "a name is 1 to 64 of a-z, 0-9 and _, not starting with a digit",
            ));
        }
        let default = p.get("default").ok_or_else(|| at("needs a `default`"))?;
        let help = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let bound = |field: &str| {
            p.get(field)
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite())
                .ok_or_else(|| at(&format!("needs a finite `{field}`")))
        };
        let (kind, default) = match p.get("type").and_then(Value::as_str) {
            Some("integer") => {
                let int = |field: &str| {
                    p.get(field)
                        .and_then(Value::as_i64)
                        .ok_or_else(|| at(&format!("needs an integer `{field}`")))
                };
                let (min, max) = (int("minimum")?, int("maximum")?);
                let d = default
                    .as_i64()
                    .filter(|d| (min..=max).contains(d))
                    .ok_or_else(|| at("`default` must be an integer within the bounds"))?;
                if min < 0 || min > max {
                    return Err(at("needs 0 ≤ minimum ≤ maximum"));
                }
                (ParamKind::Integer { min, max }, d.to_string())
            }
            Some("number") => {
                let (min, max) = (bound("minimum")?, bound("maximum")?);
                let d = default
                    .as_f64()
                    .filter(|d| (min..=max).contains(d))
                    .ok_or_else(|| at("`default` must be a number within the bounds"))?;
                (ParamKind::Number { min, max }, d.to_string())
            }
            Some("string") if p.get("format").and_then(Value::as_str) == Some("decimal") => {
                let d = default
                    .as_str()
                    .and_then(|s| domain::num::parse_decimal("default", s).ok())
                    .filter(|d| d.is_sign_positive() && !d.is_zero())
                    .ok_or_else(|| at("`default` must be a decimal above zero, as a string"))?;
                (ParamKind::PositiveDecimal, d.to_string())
            }
            _ => {
                return Err(at(
                    "`type` must be \"integer\", \"number\", or \"string\" with \"format\": \"decimal\"",
                ));
            }
        };
        out.push(DeclaredParam {
            name: name.clone(),
            kind,
            default,
            help,
        });
    }
    Ok(out)
}

/// The upload check: everything about a module that can be known without running it,
/// and an instantiation within the memory cap.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<ModuleInfo, WasmError> {
    let compiled = compile(bytes, limits)?;
    host::probe_instantiate(&compiled, limits)?;
    Ok(compiled.info)
}

/// A [`StrategyFactory`] holding users' modules by id (and creating built-ins by name).
/// Cheap to clone; shared between threads.
#[derive(Clone)]
pub struct WasmModules {
    limits: Limits,
    modules: Arc<RwLock<HashMap<String, Arc<Compiled>>>>,
}

impl std::fmt::Debug for WasmModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.modules.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("WasmModules")
            .field("limits", &self.limits)
            .field("modules", &count)
            .finish()
    }
}

impl Default for WasmModules {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl WasmModules {
    pub fn new(limits: Limits) -> Self {
        WasmModules {
            limits,
            modules: Arc::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Checks and compiles `bytes` as module `id` (replacing one with that id).
    pub fn insert(&self, id: &str, bytes: &[u8]) -> Result<ModuleInfo, WasmError> {
        let compiled = compile(bytes, &self.limits)?;
        host::probe_instantiate(&compiled, &self.limits)?;
        let info = compiled.info.clone();
        if let Ok(mut modules) = self.modules.write() {
            modules.insert(id.to_owned(), Arc::new(compiled));
        }
        Ok(info)
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut modules) = self.modules.write() {
            modules.remove(id);
        }
    }

    /// Module `id`'s parameters and their kinds (what a search may vary), in its
    /// declaration's order.
    pub fn params(&self, id: &str) -> Option<Vec<(String, ParamKind)>> {
        let compiled = self.compiled(id)?;
        Some(
            compiled
                .params
                .iter()
                .map(|p| (p.name.clone(), p.kind))
                .collect(),
        )
    }

    fn compiled(&self, id: &str) -> Option<Arc<Compiled>> {
        let modules = self.modules.read().ok()?;
        modules.get(id).cloned()
    }
}

impl StrategyFactory for WasmModules {
    fn create(
        &self,
        name: &str,
        config: &StrategyConfig,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        let Some(id) = module_id(name) else {
            return strategy::create(name, config);
        };
        let compiled = self
            .compiled(id)
            .ok_or_else(|| StrategyError::UnknownModule { id: id.to_owned() })?;
        Ok(Box::new(WasmStrategy::new(
            name,
            compiled,
            config,
            self.limits,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_ids_come_from_the_prefix() {
        assert_eq!(module_id("wasm:abc"), Some("abc"));
        assert_eq!(module_id("wasm:"), None);
        assert_eq!(module_id("sma_cross"), None);
    }

    #[test]
    fn a_declaration_schema_becomes_the_catalog_form() {
        let params = declared_params(&serde_json::json!({
            "type": "object",
            "properties": {
                "period": {"type": "integer", "minimum": 1, "maximum": 500, "default": 30, "description": "bars"},
                "k": {"type": "number", "minimum": 0.5, "maximum": 4.0, "default": 2.0},
                "size": {"type": "string", "format": "decimal", "default": "0.5"}
            }
        }))
        .expect("valid");
        let kind = |name: &str| params.iter().find(|p| p.name == name).map(|p| p.kind);
        assert_eq!(params.len(), 3);
        assert_eq!(
            kind("period"),
            Some(ParamKind::Integer { min: 1, max: 500 })
        );
        assert_eq!(kind("k"), Some(ParamKind::Number { min: 0.5, max: 4.0 }));
        assert_eq!(kind("size"), Some(ParamKind::PositiveDecimal));
        for (schema, reason) in [
            (
                serde_json::json!({"properties": {"x": {"type": "boolean", "default": true}}}),
                "`type`",
            ),
            (
                serde_json::json!({"properties": {"x": {"type": "integer", "minimum": 1, "maximum": 5}}}),
                "default",
            ),
            (
                serde_json::json!({"properties": {"x": {"type": "integer", "minimum": 1, "maximum": 5, "default": 9}}}),
                "within",
            ),
            (
                serde_json::json!({"properties": {"Bad-Name": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2}}}),
                "a name",
            ),
            (
                serde_json::json!({"properties": {"s": {"type": "string", "format": "decimal", "default": "-1"}}}),
                "above zero",
            ),
            (serde_json::json!([1]), "JSON Schema object"),
        ] {
            let err = declared_params(&schema).expect_err("refused");
            assert!(err.contains(reason), "{err} should mention {reason}");
        }
    }
}
