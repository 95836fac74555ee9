//! One measurement, printed as one line of JSON on stdout: the format of the
//! results file that `benches/scripts/run.sh` collects and
//! `benches/scripts/report.py` reads.
//!
//! Every record has `workload` (w1 ... w6), `contender`, `transport`
//! (`in-process` or `loopback`), `param` (subscribers, topics or
//! connections), and the workload's own fields.

use serde_json::{Map, Value};

pub struct Record(Map<String, Value>);

impl Record {
    pub fn new(workload: &str, contender: &str, transport: &str, param: u64) -> Self {
        let mut fields = Map::new();
        fields.insert("workload".into(), workload.into());
        fields.insert("contender".into(), contender.into());
        fields.insert("transport".into(), transport.into());
        fields.insert("param".into(), param.into());
        Record(fields)
    }

    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// Copies every field of a JSON object (for example a latency summary).
    pub fn merge(mut self, object: Value) -> Self {
        if let Value::Object(fields) = object {
            self.0.extend(fields);
        }
        self
    }

    pub fn print(self) {
        println!("{}", Value::Object(self.0));
    }
}
