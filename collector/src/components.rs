//! `cormorant components`: every built-in component with its stability, as YAML like otelcol's.

use crate::registry::Registry;
use cormorant_core::{Kind, VERSION};
use std::fmt::Write;

pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "buildinfo:\n    command: cormorant\n    description: Cormorant OpenTelemetry-native collector\n    version: {VERSION}"
    );
    for kind in [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Connector,
        Kind::Extension,
    ] {
        let metas = registry.metas(kind);
        if metas.is_empty() {
            let _ = writeln!(out, "{}: []", kind.section());
            continue;
        }
        let _ = writeln!(out, "{}:", kind.section());
        for meta in metas {
            let _ = writeln!(out, "    - name: {}", meta.ty);
            if !meta.aliases.is_empty() {
                let _ = writeln!(
                    out,
                    "      deprecated_aliases: [{}]",
                    meta.aliases.join(", ")
                );
            }
            let _ = writeln!(out, "      stability:");
            if meta.signals.is_empty() {
                let _ = writeln!(out, "        extension: {}", meta.stability.as_str());
            }
            for signal in meta.signals {
                let _ = writeln!(out, "        {signal}: {}", meta.stability.as_str());
            }
        }
    }
    out
}
