//! Request bodies turned into label trees, every problem reported at its JSON pointer
//! (`/labels/3/data/delivery_slot/start`, `/tree/children/0`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::labels::templates::{self, TemplateError};
use crate::labels::{LabelError, LabelTree};
use crate::platform::http::FieldError;

/// The most labels one print job takes.
pub const MAX_LABELS: usize = 500;

/// One label: a template with its data, or a tree.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelSource {
    /// A template's name, see `GET /v1/labels/templates`.
    template: Option<String>,
    /// The template's data.
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    /// A label tree (`{"type": "sheet", ...}`) instead of a template.
    #[schema(value_type = Option<Object>)]
    tree: Option<Value>,
}

impl LabelSource {
    /// The label's tree, or a 400 naming the field at fault. Templates and QR codes are CPU
    /// work: call this off the async threads.
    pub fn into_tree(self) -> Result<LabelTree, LabelError> {
        self.parse("")
            .map_err(|problem| LabelError::Invalid(vec![problem]))
    }

    /// The tree, or the problem at its JSON pointer below `at`.
    fn parse(self, at: &str) -> Result<LabelTree, FieldError> {
        match self {
            LabelSource {
                template: Some(name),
                data: Some(data),
                tree: None,
            } => templates::render_template(&name, data).map_err(|e| template_problem(at, e)),
            LabelSource {
                template: None,
                data: None,
                tree: Some(tree),
            } => LabelTree::from_json_value(tree).map_err(|invalid| {
                let path = invalid.path.to_string();
                let path = if path == "/" { "" } else { &path };
                problem(format!("{at}/tree{path}"), invalid.problem.to_string())
            }),
            LabelSource { tree: Some(_), .. } => Err(problem(
                format!("{at}/tree"),
                "give either `template` with `data`, or `tree`",
            )),
            LabelSource {
                template: Some(_), ..
            } => Err(problem(format!("{at}/data"), "required with `template`")),
            LabelSource { data: Some(_), .. } => {
                Err(problem(format!("{at}/template"), "required with `data`"))
            }
            LabelSource { .. } => Err(problem(
                format!("{at}/template"),
                "give `template` with `data`, or `tree`",
            )),
        }
    }

    fn is_empty(&self) -> bool {
        self.template.is_none() && self.data.is_none() && self.tree.is_none()
    }
}

/// `POST /v1/print-jobs`: one label (`template` with `data`, or `tree`) or a batch (`labels`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintJobRequest {
    /// A single label from a template, see `GET /v1/labels/templates`.
    template: Option<String>,
    /// The template's data.
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    /// A single label as a tree.
    #[schema(value_type = Option<Object>)]
    tree: Option<Value>,
    /// A batch instead of a single label: 1 to 500 labels, printed in this order.
    labels: Option<Vec<LabelSource>>,
    /// A configured printer's name; required unless `dry_run`.
    printer: Option<String>,
    /// Render and log the labels, listing their substitutions, without printing.
    #[serde(default)]
    dry_run: bool,
}

/// A print request whose shape and printer are checked; its labels are parsed later, off the
/// async threads.
#[derive(Debug)]
pub struct PrintOrder {
    pub labels: Labels,
    pub printer: Option<String>,
    pub dry_run: bool,
}

impl PrintJobRequest {
    pub fn parse(self, printers: &BTreeMap<String, String>) -> Result<PrintOrder, LabelError> {
        let single = LabelSource {
            template: self.template,
            data: self.data,
            tree: self.tree,
        };
        let labels = match self.labels {
            None => Labels(vec![(String::new(), single)]),
            Some(_) if !single.is_empty() => {
                return Err(LabelError::Request {
                    field: "/labels",
                    message: "give `labels` or a single label (`template` with `data`, or `tree`), not both".into(),
                });
            }
            Some(batch) if !(1..=MAX_LABELS).contains(&batch.len()) => {
                return Err(LabelError::Request {
                    field: "/labels",
                    message: format!(
                        "a batch holds 1 to {MAX_LABELS} labels, not {}",
                        batch.len()
                    ),
                });
            }
            Some(batch) => Labels(
                batch
                    .into_iter()
                    .enumerate()
                    .map(|(index, source)| (format!("/labels/{index}"), source))
                    .collect(),
            ),
        };
        match (&self.printer, self.dry_run) {
            (Some(name), _) if !printers.contains_key(name) => {
                return Err(LabelError::UnknownPrinter {
                    name: name.clone(),
                    known: known_printers(printers),
                });
            }
            (None, false) => {
                return Err(LabelError::NoPrinter {
                    known: known_printers(printers),
                });
            }
            _ => {}
        }
        Ok(PrintOrder {
            labels,
            printer: self.printer,
            dry_run: self.dry_run,
        })
    }
}

/// The labels of a request in order, each with the JSON pointer it came from.
#[derive(Debug)]
pub struct Labels(Vec<(String, LabelSource)>);

impl Labels {
    /// Every label's tree, or a 400 listing every label's problem. CPU work: call this off the
    /// async threads.
    pub fn into_trees(self) -> Result<Vec<LabelTree>, LabelError> {
        let mut trees = Vec::with_capacity(self.0.len());
        let mut problems = Vec::new();
        for (at, source) in self.0 {
            match source.parse(&at) {
                Ok(tree) => trees.push(tree),
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(trees)
        } else {
            Err(LabelError::Invalid(problems))
        }
    }
}

fn known_printers(printers: &BTreeMap<String, String>) -> String {
    if printers.is_empty() {
        "no printers are configured".into()
    } else {
        let names: Vec<_> = printers.keys().map(|name| format!("`{name}`")).collect();
        format!("configured printers: {}", names.join(", "))
    }
}

fn template_problem(at: &str, error: TemplateError) -> FieldError {
    match error {
        TemplateError::Unknown { .. } => problem(format!("{at}/template"), error.to_string()),
        TemplateError::Data { field, message, .. } => {
            let pointer = field.as_deref().map(data_pointer).unwrap_or_default();
            problem(format!("{at}/data{pointer}"), message)
        }
        // The data made a label that cannot print (a tab in a name): the data is at fault.
        TemplateError::Tree { .. } => problem(format!("{at}/data"), error.to_string()),
    }
}

/// `items[1].quantity`, as templates name a field, to the JSON pointer `/items/1/quantity`.
fn data_pointer(path: &str) -> String {
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|segment| !segment.is_empty())
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::labels::templates::order_item;

    fn source(json: Value) -> LabelSource {
        serde_json::from_value(json).unwrap()
    }

    fn field_of(source: LabelSource) -> (String, String) {
        let problem = source.parse("/labels/2").unwrap_err();
        (problem.field, problem.message)
    }

    fn request(json: Value) -> PrintJobRequest {
        serde_json::from_value(json).unwrap()
    }

    fn printers() -> BTreeMap<String, String> {
        BTreeMap::from([("dock".into(), "10.0.0.31".into())])
    }

    fn sheet(children: Value) -> Value {
        json!({"type": "sheet", "width_dots": 384, "columns": 32, "children": children})
    }

    #[test]
    fn data_paths_become_json_pointers() {
        assert_eq!(data_pointer("delivery_slot.start"), "/delivery_slot/start");
        assert_eq!(data_pointer("items[1].quantity"), "/items/1/quantity");
        assert_eq!(data_pointer("[0].a~b/c"), "/0/a~0b~1c");
    }

    #[test]
    fn templates_and_trees_parse() {
        let from_template =
            source(json!({"template": "order-item", "data": order_item::example()}));
        assert!(from_template.parse("").is_ok());
        let from_tree = source(json!({"tree": sheet(json!([{"type": "rule"}]))}));
        assert_eq!(from_tree.parse("").unwrap().columns(), 32);
    }

    #[test]
    fn problems_are_reported_at_their_pointer() {
        let mut data = order_item::example();
        data["delivery_slot"]["start"] = json!("ten");
        let (field, _) = field_of(source(json!({"template": "order-item", "data": data})));
        assert_eq!(field, "/labels/2/data/delivery_slot/start");

        let mut data = order_item::example();
        data.as_object_mut().unwrap().remove("quantity");
        let (field, message) = field_of(source(json!({"template": "order-item", "data": data})));
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("/labels/2/data", "missing field `quantity`")
        );

        let (field, message) = field_of(source(json!({"template": "pallet", "data": {}})));
        assert_eq!(field, "/labels/2/template");
        assert!(message.contains("order-item, shipping-box"), "{message}");

        let tree = sheet(json!([{"type": "bold", "children": [{"type": "blink"}]}]));
        let (field, _) = field_of(source(json!({ "tree": tree })));
        assert_eq!(field, "/labels/2/tree/children/0/children/0");

        let tree = json!({"type": "rule"});
        let (field, message) = field_of(source(json!({ "tree": tree })));
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("/labels/2/tree", "the root must be a sheet, not `rule`")
        );
    }

    #[test]
    fn a_label_is_a_template_with_data_or_a_tree() {
        let cases = [
            (json!({}), "/labels/2/template"),
            (json!({"template": "order-item"}), "/labels/2/data"),
            (json!({"data": {}}), "/labels/2/template"),
            (
                json!({"template": "order-item", "data": {}, "tree": {}}),
                "/labels/2/tree",
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(field_of(source(json.clone())).0, expected, "{json}");
        }
    }

    #[test]
    fn every_bad_label_of_a_batch_is_reported() {
        let ok = json!({"tree": sheet(json!([]))});
        let bad = json!({"tree": {"type": "rule"}});
        let order = request(json!({"labels": [ok, bad, ok, bad], "dry_run": true}))
            .parse(&printers())
            .unwrap();
        let error = order.labels.into_trees().unwrap_err();
        assert!(matches!(&error, LabelError::Invalid(problems) if problems.len() == 2));
        assert_eq!(
            error.to_string(),
            "2 labels are invalid; `errors` lists each"
        );
    }

    #[test]
    fn a_batch_holds_one_to_five_hundred_labels() {
        let label = json!({"tree": sheet(json!([]))});
        let batch = |n: usize| request(json!({"labels": vec![label.clone(); n], "dry_run": true}));
        let order = batch(MAX_LABELS).parse(&printers()).unwrap();
        assert_eq!(order.labels.into_trees().unwrap().len(), MAX_LABELS);
        for n in [0, MAX_LABELS + 1] {
            let error = batch(n).parse(&printers()).unwrap_err();
            assert!(matches!(error, LabelError::Request { .. }), "{error:?}");
            assert_eq!(
                error.to_string(),
                format!("/labels: a batch holds 1 to 500 labels, not {n}")
            );
        }
        let mixed = request(json!({"labels": [label], "tree": sheet(json!([])), "dry_run": true}));
        assert!(mixed.parse(&printers()).is_err());
    }

    #[test]
    fn the_printer_must_be_configured_unless_dry_run() {
        let tree = sheet(json!([]));
        let error = request(json!({"tree": tree, "printer": "office"}))
            .parse(&printers())
            .unwrap_err();
        assert!(matches!(error, LabelError::UnknownPrinter { .. }));
        assert_eq!(
            error.to_string(),
            "/printer: unknown printer `office`; configured printers: `dock`"
        );
        let error = request(json!({ "tree": tree }))
            .parse(&printers())
            .unwrap_err();
        assert!(matches!(error, LabelError::NoPrinter { .. }));
        assert_eq!(
            error.to_string(),
            "/printer: required unless `dry_run`; configured printers: `dock`"
        );
        let error = request(json!({ "tree": tree }))
            .parse(&BTreeMap::new())
            .unwrap_err();
        assert!(error.to_string().ends_with("no printers are configured"));
        let dry = request(json!({"tree": tree, "dry_run": true}))
            .parse(&printers())
            .unwrap();
        assert_eq!((dry.printer, dry.dry_run), (None, true));
        let to_dock = request(json!({"tree": tree, "printer": "dock"}))
            .parse(&printers())
            .unwrap();
        assert_eq!(to_dock.printer.as_deref(), Some("dock"));
    }
}
