//! The `file` exporter's settings, with the keys, defaults and checks of otelcol-contrib's
//! fileexporter so existing configs keep their meaning.

use cormorant_core::config::duration;
use cormorant_core::{ComponentConfig, ConfigError};
use serde::Deserialize;
use std::time::Duration;

/// How long written data may sit in the buffer before it reaches the file, when the config
/// leaves `flush_interval` unset or zero (as contrib does).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How each exported request is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Format {
    /// OTLP JSON (`Export*ServiceRequest`), one object per line unless compressed.
    #[default]
    Json,
    /// OTLP protobuf, each message preceded by its length.
    Proto,
}

/// Per-message compression. A compressed message is always length-prefixed, since compressed
/// bytes may contain newlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Compression {
    #[default]
    None,
    Zstd,
}

impl TryFrom<String> for Format {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        match text.as_str() {
            "json" => Ok(Format::Json),
            "proto" => Ok(Format::Proto),
            other => Err(format!(
                "format type \"{other}\" is not supported; use json or proto"
            )),
        }
    }
}

impl TryFrom<String> for Compression {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        match text.as_str() {
            "" | "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd),
            other => Err(format!(
                "compression \"{other}\" is not supported; use zstd or leave it empty"
            )),
        }
    }
}

/// `exporters::file` settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileExporterConfig {
    /// The file to write; relative paths are relative to the working directory.
    pub path: String,
    /// Keep what the file already holds instead of truncating it at start.
    pub append: bool,
    pub format: Format,
    pub compression: Compression,
    /// How often buffered data is written to the file; zero means the default of one second.
    #[serde(deserialize_with = "duration")]
    pub flush_interval: Duration,
    /// Create the file's parent directories at start.
    pub create_directory: bool,
    /// Octal permissions (before umask) for directories made by `create_directory`; "0755" when empty.
    pub directory_permissions: String,
}

impl Default for FileExporterConfig {
    fn default() -> Self {
        FileExporterConfig {
            path: String::new(),
            append: false,
            format: Format::Json,
            compression: Compression::None,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            create_directory: false,
            directory_permissions: String::new(),
        }
    }
}

impl FileExporterConfig {
    /// The flush period actually used: contrib treats an explicit zero as "use the default".
    pub fn effective_flush_interval(&self) -> Duration {
        if self.flush_interval.is_zero() {
            DEFAULT_FLUSH_INTERVAL
        } else {
            self.flush_interval
        }
    }

    /// The mode for directories made by `create_directory`.
    pub fn directory_mode(&self) -> Result<u32, ConfigError> {
        let text = if self.directory_permissions.is_empty() {
            "0755"
        } else {
            self.directory_permissions.as_str()
        };
        let mode = u32::from_str_radix(text, 8).map_err(|_| {
            ConfigError::Invalid(format!(
                "directory_permissions value must be a valid octal representation, got \"{text}\""
            ))
        })?;
        if mode & !0o777 != 0 {
            return Err(ConfigError::Invalid(format!(
                "directory_permissions \"{text}\" contains invalid bits for file access"
            )));
        }
        Ok(mode)
    }
}

impl ComponentConfig for FileExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.path.is_empty() {
            return Err(ConfigError::Invalid("path must be non-empty".into()));
        }
        if self.append && self.compression != Compression::None {
            return Err(ConfigError::Invalid(
                "append and compression enabled at the same time is not supported".into(),
            ));
        }
        if self.create_directory {
            self.directory_mode()?;
        } else if !self.directory_permissions.is_empty() {
            return Err(ConfigError::Invalid(
                "directory_permissions requires create_directory to be true".into(),
            ));
        }
        Ok(())
    }
}
