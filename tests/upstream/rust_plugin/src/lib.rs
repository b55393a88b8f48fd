//! A test plugin over upstream Dativo's Rust C ABI (rust_plugin_bridge.py): every string is NUL-terminated
//! JSON. Reader: CSV files (`files[].path`, comma-separated, header row) as batches of `engine.options.batch_size`
//! records; whole numbers become JSON numbers. Writer: each batch's records to `<output_base>/part-NNNNN.json`
//! (NNNNN = file_counter); `engine.options.fail_writes: true` makes write_batch return NULL, as a failing
//! upstream plugin does. No JSON library: the values it needs are found by key in Python's json.dumps output.
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;

pub struct Reader {
    rows: Vec<String>,
    position: usize,
    batch_size: usize,
}

pub struct Writer {
    output_base: String,
    fail_writes: bool,
}

fn text(raw: *const c_char) -> Option<String> {
    if raw.is_null() {
        return None;
    }
    unsafe { CStr::from_ptr(raw) }.to_str().ok().map(|s| s.to_string())
}

/// Every string value of `"key": "..."` in `json` (no escapes in the values this test uses).
fn strings(json: &str, key: &str) -> Vec<String> {
    let needle = format!("\"{}\": \"", key);
    json.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &json[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect()
}

fn number(json: &str, key: &str) -> Option<usize> {
    let needle = format!("\"{}\": ", key);
    let at = json.find(&needle)? + needle.len();
    let digits: String = json[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn quoted(value: &str) -> String {
    if value.parse::<i64>().is_ok() {
        return value.to_string();
    }
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn out(json: String) -> *const c_char {
    CString::new(json).map(|s| s.into_raw() as *const c_char).unwrap_or(ptr::null())
}

#[no_mangle]
pub extern "C" fn create_reader(config_json: *const c_char) -> *mut Reader {
    let Some(config) = text(config_json) else { return ptr::null_mut() };
    let mut rows = Vec::new();
    for path in strings(&config, "path") {
        let Ok(content) = std::fs::read_to_string(&path) else {
            eprintln!("cannot read {}", path);
            return ptr::null_mut();
        };
        let mut lines = content.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        for line in lines.filter(|l| !l.is_empty()) {
            let fields: Vec<String> = header.iter().zip(line.split(','))
                .map(|(name, value)| format!("\"{}\": {}", name, quoted(value)))
                .collect();
            rows.push(format!("{{{}}}", fields.join(", ")));
        }
    }
    let batch_size = number(&config, "batch_size").unwrap_or(1000).max(1);
    Box::into_raw(Box::new(Reader { rows, position: 0, batch_size }))
}

#[no_mangle]
pub extern "C" fn extract_batch(reader: *mut Reader) -> *const c_char {
    if reader.is_null() {
        return ptr::null();
    }
    let reader = unsafe { &mut *reader };
    if reader.position >= reader.rows.len() {
        return ptr::null();
    }
    let end = (reader.position + reader.batch_size).min(reader.rows.len());
    let batch = format!("[{}]", reader.rows[reader.position..end].join(", "));
    reader.position = end;
    out(batch)
}

#[no_mangle]
pub extern "C" fn free_reader(reader: *mut Reader) {
    if !reader.is_null() {
        drop(unsafe { Box::from_raw(reader) });
    }
}

#[no_mangle]
pub extern "C" fn create_writer(config_json: *const c_char) -> *mut Writer {
    let Some(config) = text(config_json) else { return ptr::null_mut() };
    let Some(output_base) = strings(&config, "output_base").into_iter().next() else { return ptr::null_mut() };
    let fail_writes = config.contains("\"fail_writes\": true");
    Box::into_raw(Box::new(Writer { output_base, fail_writes }))
}

#[no_mangle]
pub extern "C" fn write_batch(writer: *mut Writer, records_json: *const c_char) -> *const c_char {
    if writer.is_null() {
        return ptr::null();
    }
    let writer = unsafe { &*writer };
    let Some(input) = text(records_json) else { return ptr::null() };
    if writer.fail_writes {
        eprintln!("write_batch: refusing to write (fail_writes)");
        return ptr::null();
    }
    let (Some(start), Some(end)) = (input.find("\"records\": ").map(|at| at + 11), input.rfind(", \"file_counter\": "))
    else { return ptr::null() };
    let counter = number(&input, "file_counter").unwrap_or(0);
    if std::fs::create_dir_all(&writer.output_base).is_err() {
        return ptr::null();
    }
    let path = format!("{}/part-{:05}.json", writer.output_base, counter);
    if std::fs::write(&path, &input[start..end]).is_err() {
        return ptr::null();
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    out(format!("[{{\"path\": \"{}\", \"size_bytes\": {}}}]", path, size))
}

#[no_mangle]
pub extern "C" fn free_writer(writer: *mut Writer) {
    if !writer.is_null() {
        drop(unsafe { Box::from_raw(writer) });
    }
}

#[no_mangle]
pub extern "C" fn free_string(s: *const c_char) {
    if !s.is_null() {
        drop(unsafe { CString::from_raw(s as *mut c_char) });
    }
}
