//! Internal categories → the city's event codes, as a configurable table.
//!
//! Detectors and rules speak in internal categories (`street_vending`,
//! `illegal_signage.poster`); the case system speaks in the city's event codes (CJ/T 214
//! `0501`, GB/T 30428 `04-01`, or local codes). A [`CategoryTable`] is loaded from TOML and
//! validated as a whole: every bad entry is reported, each named by its position and internal
//! name. Two defaults ship as files (`categories/cjt214.toml`, `categories/gbt30428.toml`) and
//! are embedded here as [`CategoryTable::cjt214`] and [`CategoryTable::gbt30428`].
//!
//! Pure: reading the file is the only I/O ([`CategoryTable::load`]).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const CJT214_TOML: &str = include_str!("../../categories/cjt214.toml");
const GBT30428_TOML: &str = include_str!("../../categories/gbt30428.toml");

/// One row of a table: an internal category and the city's event code and name for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Internal category: lower-case `[a-z0-9_]` words, sub-kinds after a dot
    /// (`illegal_signage.poster`).
    pub internal: String,
    /// The city's event code (`0501`, `04-01`, `200504`).
    pub code: String,
    /// The city's event name (`无照经营游商`).
    pub name: String,
    /// Top class, code and name (`05 街面秩序`), for display.
    #[serde(default)]
    pub class: Option<String>,
}

/// The file format: an optional name and `[[categories]]` rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    /// What the table is (`CJ/T 214-2007 lineage`).
    #[serde(default)]
    name: Option<String>,
    categories: Vec<Category>,
}

/// Why a table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CategoryError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML of the expected shape.
    #[error("category table is not valid TOML: {0}")]
    Parse(String),
    /// Entries that break the rules; one message per problem, each naming its entry.
    #[error("category table has {} problem(s): {}", .0.len(), .0.join("; "))]
    Invalid(Vec<String>),
}

/// A validated table from internal category to event code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryTable {
    name: Option<String>,
    categories: Vec<Category>,
    by_internal: HashMap<String, usize>,
}

impl CategoryTable {
    /// Parses and validates a table in TOML.
    pub fn from_toml_str(src: &str) -> Result<Self, CategoryError> {
        let file: TableFile =
            toml::from_str(src).map_err(|e| CategoryError::Parse(e.to_string()))?;
        Self::build(file.name, file.categories)
    }

    /// Reads, parses and validates a table file.
    pub fn load(path: &Path) -> Result<Self, CategoryError> {
        let src = std::fs::read_to_string(path).map_err(|source| CategoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&src).map_err(|err| match err {
            CategoryError::Parse(msg) => CategoryError::Parse(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Validates rows built in code.
    pub fn from_categories(categories: Vec<Category>) -> Result<Self, CategoryError> {
        Self::build(None, categories)
    }

    /// The shipped CJ/T 214 lineage table (`categories/cjt214.toml`).
    pub fn cjt214() -> Self {
        Self::from_toml_str(CJT214_TOML).expect("categories/cjt214.toml is checked by tests")
    }

    /// The shipped GB/T 30428-style table (`categories/gbt30428.toml`).
    pub fn gbt30428() -> Self {
        Self::from_toml_str(GBT30428_TOML).expect("categories/gbt30428.toml is checked by tests")
    }

    fn build(name: Option<String>, categories: Vec<Category>) -> Result<Self, CategoryError> {
        let mut problems = Vec::new();
        let mut by_internal: HashMap<String, usize> = HashMap::new();
        for (i, cat) in categories.iter().enumerate() {
            let at = format!("categories[{i}] ({:?})", cat.internal);
            if cat.internal.trim().is_empty() {
                problems.push(format!("categories[{i}]: internal name is empty"));
            } else if !valid_internal(&cat.internal) {
                problems.push(format!(
                    "{at}: internal name must be lower-case words of [a-z0-9_] joined by '.'"
                ));
            }
            if cat.code.trim().is_empty() {
                problems.push(format!("{at}: code is empty"));
            } else if cat.code.chars().any(char::is_whitespace) {
                problems.push(format!("{at}: code {:?} contains whitespace", cat.code));
            }
            if cat.name.trim().is_empty() {
                problems.push(format!("{at}: name is empty"));
            }
            if cat.class.as_deref().is_some_and(|c| c.trim().is_empty()) {
                problems.push(format!("{at}: class is empty (leave it out instead)"));
            }
            if let Some(first) = by_internal.get(&cat.internal) {
                problems.push(format!(
                    "{at}: duplicate internal name, first defined at categories[{first}]"
                ));
            } else {
                by_internal.insert(cat.internal.clone(), i);
            }
        }
        if categories.is_empty() {
            problems.push("categories: the table has no entries".to_owned());
        }
        if problems.is_empty() {
            Ok(Self {
                name,
                categories,
                by_internal,
            })
        } else {
            Err(CategoryError::Invalid(problems))
        }
    }

    /// The table's `name`, when the file gives one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The entry for exactly this internal category.
    pub fn get(&self, internal: &str) -> Option<&Category> {
        self.by_internal.get(internal).map(|&i| &self.categories[i])
    }

    /// The entry for `internal`, or for its nearest parent when the table has no row for the
    /// sub-kind (`illegal_signage.banner` → `illegal_signage`), so a detector may report finer
    /// kinds than a city's table lists.
    pub fn lookup(&self, internal: &str) -> Option<&Category> {
        let mut key = internal;
        loop {
            if let Some(found) = self.get(key) {
                return Some(found);
            }
            key = &key[..key.rfind('.')?];
        }
    }

    /// Rows in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {} {}", self.internal, self.code, self.name)
    }
}

fn valid_internal(internal: &str) -> bool {
    internal.split('.').all(|word| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUR: [&str; 4] = [
        "street_vending",
        "sidewalk_stacking",
        "illegal_signage",
        "sidewalk_occupation",
    ];

    #[test]
    fn shipped_tables_map_all_four_categories() {
        for (table, codes) in [
            (CategoryTable::cjt214(), ["0501", "0507", "0202", "0504"]),
            (
                CategoryTable::gbt30428(),
                ["04-01", "01-36", "02-03", "04-06"],
            ),
        ] {
            for (internal, code) in FOUR.iter().zip(codes) {
                let cat = table.lookup(internal).expect(internal);
                assert_eq!(cat.code, code, "{internal} in {:?}", table.name());
                assert!(!cat.name.is_empty());
            }
        }
    }

    #[test]
    fn sub_kinds_map_to_their_own_codes_or_fall_back_to_the_parent() {
        let cjt = CategoryTable::cjt214();
        assert_eq!(cjt.lookup("illegal_signage.poster").unwrap().code, "0201");
        assert_eq!(cjt.lookup("illegal_signage.aframe").unwrap().code, "0203");
        assert_eq!(cjt.lookup("illegal_signage.neon").unwrap().code, "0202");
        assert!(cjt.get("illegal_signage.neon").is_none());
        assert!(cjt.lookup("graffiti").is_none());
        let gbt = CategoryTable::gbt30428();
        assert_eq!(gbt.lookup("illegal_signage.poster").unwrap().code, "02-01");
        assert_eq!(gbt.lookup("street_vending").unwrap().name, "无照经营游商");
    }

    #[test]
    fn shipped_files_on_disk_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("categories");
        for file in ["cjt214.toml", "gbt30428.toml"] {
            let table = CategoryTable::load(&dir.join(file)).unwrap();
            assert!(table.categories().len() >= 4);
        }
    }

    #[test]
    fn invalid_tables_name_every_bad_entry() {
        let src = r#"
            [[categories]]
            internal = "street_vending"
            code = "0501"
            name = "无照经营游商"

            [[categories]]
            internal = "sidewalk_stacking"
            code = ""
            name = "乱堆物堆料"

            [[categories]]
            internal = "street_vending"
            code = "0504"
            name = "店外经营"

            [[categories]]
            internal = "Bad Name"
            code = "02 01"
            name = " "
        "#;
        let err = CategoryTable::from_toml_str(src).unwrap_err();
        let CategoryError::Invalid(problems) = &err else {
            panic!("expected Invalid, got {err:?}");
        };
        let all = problems.join("\n");
        assert!(
            all.contains(r#"categories[1] ("sidewalk_stacking"): code is empty"#),
            "{all}"
        );
        assert!(
            all.contains(r#"categories[2] ("street_vending"): duplicate internal name, first defined at categories[0]"#),
            "{all}"
        );
        assert!(
            all.contains(r#"categories[3] ("Bad Name"): internal name"#),
            "{all}"
        );
        assert!(
            all.contains(r#"categories[3] ("Bad Name"): code "02 01""#),
            "{all}"
        );
        assert!(
            all.contains(r#"categories[3] ("Bad Name"): name is empty"#),
            "{all}"
        );
        assert_eq!(problems.len(), 5, "{all}");
        assert!(err
            .to_string()
            .starts_with("category table has 5 problem(s): "));
    }

    #[test]
    fn unknown_fields_and_bad_toml_are_parse_errors() {
        let err = CategoryTable::from_toml_str(
            "[[categories]]\ninternal = \"a\"\ncode = \"1\"\nname = \"n\"\ncolour = \"red\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(&err, CategoryError::Parse(m) if m.contains("colour")),
            "{err}"
        );
        assert!(matches!(
            CategoryTable::from_toml_str("categories = ["),
            Err(CategoryError::Parse(_))
        ));
        assert!(matches!(
            CategoryTable::from_toml_str("categories = []"),
            Err(CategoryError::Invalid(_))
        ));
    }
}
