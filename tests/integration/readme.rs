//! The README's commands, run as written, so that the README cannot drift from the server.
//!
//! Every `sh` block of README.md, in order, is one bash script, run from a fresh folder that
//! holds the repository's `registry/`, against the real `samvirke` binary serving on SQLite and
//! then on PostgreSQL (`SAMVIRKE_DATABASE_URL`, as Production says). Real bash expands the
//! variables, `$(date …)` and the loops. Three commands on its `PATH` stand in for what a
//! newcomer runs:
//! - `cargo run [-q] [--release] -- ARGS` runs the built binary with `ARGS`;
//! - `grpcurl` hands its arguments to this test, which makes the call as grpcurl would: the
//!   request body read with protobuf's JSON mapping (unknown fields refused, a field mask only in
//!   the `{"paths": [...]}` form grpcurl reads), the answer printed in it, an error as
//!   `ERROR: Code: … Message: …` with exit status 64 + code;
//! - `jq -r .path` prints a string field of its input.
//!
//! Each grpcurl call must answer what its `# →` comment says: the status code it names, or OK
//! with every `"field": value` the comment shows; with none, OK. `copy X for PLACEHOLDER` takes
//! the value the later commands use in place of PLACEHOLDER, as the reader would paste it. Every
//! call in the README must be made, every placeholder resolved, every file a command writes
//! written, and bash must report no error. Flags and environment variables the README names
//! must be in the binary's `--help`.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;

use super::common::{Raw, fresh_postgres_schema};

const BIN: &str = env!("CARGO_BIN_EXE_samvirke");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Blocks the test does not run, each exactly as the README gives it, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("cargo run -- serve", "the test starts the server itself, on a free port"),
    (
        "SAMVIRKE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test",
        "it runs this test; CI runs it",
    ),
    (
        "cargo run --release -- bench --postgres-url postgres://postgres@127.0.0.1:5432/test",
        "a command of its own, minutes long; its flags are checked against `bench --help`",
    ),
    ("scripts/statements sqlite", "it runs the test suite; the script is checked to exist"),
];

/// Flags the README gives to other tools (cargo, buf), which `samvirke` does not have.
const OTHER_TOOLS_FLAGS: &[&str] = &[
    "--release",
    "--protocol",
    "--http2-prior-knowledge",
    "--type",
    "--from",
    "--to",
    "--template",
];

/// Environment variables the README names that only the tests and the bench read.
const NOT_SERVER_ENV: &[&str] = &["SAMVIRKE_TEST_DATABASE_URL"];

/// One `sh` block of the README: its first line's number (1-based) and its text.
struct Block {
    line: usize,
    text: String,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap()
}

fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        match (&mut open, line.trim_end()) {
            (None, "```sh") => open = Some(Block { line: i + 2, text: String::new() }),
            (Some(_), "```") => blocks.push(open.take().unwrap()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(open.is_none(), "README.md ends inside a code block");
    blocks
}

/// What one grpcurl command of the README must answer, from its `# →` comment.
#[derive(Debug)]
struct Expect {
    /// README line of the command's first line.
    line: usize,
    code: Code,
    /// `"field": value` pairs the answer must hold somewhere.
    fields: Vec<(String, Value)>,
    /// `copy PATH for PLACEHOLDER`: the answer's field and the text it stands for.
    copy: Option<CopyInto>,
}

#[derive(Debug)]
struct CopyInto {
    path: String,
    prefix: String,
    placeholder: String,
    suffix: String,
}

/// The status codes by the names the README writes them in.
fn code_named(name: &str) -> Option<Code> {
    (0..=16).map(Code::from_i32).find(|code| {
        let debug = format!("{code:?}");
        let mut snake = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_uppercase());
        }
        snake == name
    })
}

fn parse_expect(line: usize, comment: &str) -> Expect {
    let comment = comment.trim();
    let first = comment.split_whitespace().next().unwrap_or("").trim_end_matches([':', ',']);
    if !first.is_empty() && first.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        let code = code_named(first)
            .unwrap_or_else(|| panic!("README.md:{line}: `{first}` is not a status code"));
        return Expect { line, code, fields: Vec::new(), copy: None };
    }
    let (shown, copy) = match comment.find("copy ") {
        Some(at) => (&comment[..at], Some(parse_copy(line, &comment[at + 5..]))),
        None => (comment, None),
    };
    Expect { line, code: Code::Ok, fields: shown_fields(shown), copy }
}

/// `plan.name for "plans/YOUR-PLAN-ID" below` → the path and the placeholder within its text.
fn parse_copy(line: usize, text: &str) -> CopyInto {
    let mut words = text.split_whitespace();
    let path = words.next().unwrap_or_default().to_owned();
    assert_eq!(words.next(), Some("for"), "README.md:{line}: `copy X for PLACEHOLDER` expected");
    let target = words.next().unwrap_or_default().trim_matches(|c| c == '"' || c == '`');
    let start = target
        .find(|c: char| c.is_ascii_uppercase())
        .unwrap_or_else(|| panic!("README.md:{line}: no placeholder in `{target}`"));
    let end = target[start..]
        .find(|c: char| !(c.is_ascii_uppercase() || c == '-'))
        .map_or(target.len(), |n| start + n);
    CopyInto {
        path,
        prefix: target[..start].to_owned(),
        placeholder: target[start..end].to_owned(),
        suffix: target[end..].to_owned(),
    }
}

/// The `"field": value` pairs a comment shows, skipping values elided with `…`.
fn shown_fields(text: &str) -> Vec<(String, Value)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        let key = &after[..close];
        let tail = after[close + 1..].trim_start();
        rest = &after[close + 1..];
        let Some(value) = tail.strip_prefix(':').map(str::trim_start) else { continue };
        let literal = if let Some(string) = value.strip_prefix('"') {
            let Some(end) = string.find('"') else { break };
            rest = &string[end + 1..];
            Some(format!("\"{}\"", &string[..end]))
        } else {
            let end = value.find([',', '}', ']', ' ']).unwrap_or(value.len());
            (!value[..end].is_empty()).then(|| value[..end].to_owned())
        };
        if let Some(literal) = literal.filter(|l| !l.contains('…'))
            && let Ok(value) = serde_json::from_str::<Value>(&literal)
            && !value.is_object()
            && !value.is_array()
        {
            pairs.push((key.to_owned(), value));
        }
    }
    pairs
}

/// Whether `answer` holds, at any depth, an object whose `key` is `value`.
fn holds(answer: &Value, key: &str, value: &Value) -> bool {
    match answer {
        Value::Object(map) => {
            map.get(key) == Some(value) || map.values().any(|v| holds(v, key, value))
        }
        Value::Array(items) => items.iter().any(|v| holds(v, key, value)),
        _ => false,
    }
}

/// The README's runnable blocks as one script, each grpcurl command numbered
/// (`README_CALL=N grpcurl …`), and what each must answer.
fn script(blocks: &[Block]) -> (String, Vec<Expect>) {
    let mut script = String::from("set -u\n");
    let mut expects = Vec::new();
    for block in blocks {
        if NOT_RUN.iter().any(|(text, _)| block.text.trim() == *text) {
            continue;
        }
        script.push_str(&format!("# README.md:{}\n", block.line));
        let lines: Vec<&str> = block.text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let Some(at) = line.find("grpcurl ").filter(|&at| line[..at].trim().is_empty()) else {
                script.push_str(line);
                script.push('\n');
                i += 1;
                continue;
            };
            // The command runs to the first line outside single quotes that does not continue.
            let mut quoted = false;
            let mut end = i;
            loop {
                let code = shell_code(lines[end], &mut quoted);
                if !quoted && !code.trim_end().ends_with('\\') {
                    break;
                }
                end += 1;
                assert!(end < lines.len(), "README.md:{}: unterminated command", block.line + i);
            }
            let mut comment = String::new();
            if let Some(arrow) = lines[end].find("# →") {
                comment.push_str(&lines[end][arrow + "# →".len()..]);
            } else if let Some(next) = lines.get(end + 1)
                && let Some(text) = next.trim_start().strip_prefix("# →")
            {
                comment.push_str(text);
                for more in &lines[end + 2..] {
                    match more.strip_prefix("#  ") {
                        Some(text) => {
                            comment.push(' ');
                            comment.push_str(text);
                        }
                        None => break,
                    }
                }
            }
            expects.push(parse_expect(block.line + i, &comment));
            script.push_str(&format!(
                "{}README_CALL={} {}\n",
                &line[..at],
                expects.len() - 1,
                &line[at..]
            ));
            for text in &lines[i + 1..=end] {
                script.push_str(text);
                script.push('\n');
            }
            i = end + 1;
        }
    }
    (script, expects)
}

/// The part of `line` before a comment, given whether it starts inside single quotes; leaves
/// `quoted` saying whether the line ends inside them. Enough of sh's quoting for the README:
/// single and double quotes, and `#` starting a comment after a blank.
fn shell_code<'a>(line: &'a str, quoted: &mut bool) -> &'a str {
    let mut double = false;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match c {
            '\'' if !double => *quoted = !*quoted,
            '"' if !*quoted => double = !double,
            '#' if !*quoted && !double && previous.is_whitespace() => return &line[..at],
            _ => {}
        }
        previous = c;
    }
    line
}

const CARGO_SHIM: &str = r#"#!/usr/bin/env bash
# cargo run [-q] [--release] -- ARGS: the built samvirke binary with ARGS.
[ "${1:-}" = run ] || { echo "readme test: cargo ${1:-} is not emulated" >&2; exit 97; }
shift
while [ "${1:-}" != -- ]; do
  case "${1:-}" in
    -q|--release) shift ;;
    *) echo "readme test: cargo run ${1:-} is not emulated" >&2; exit 97 ;;
  esac
done
shift
"$SAMVIRKE_BIN" "$@" || { code=$?; echo "readme test: samvirke $* exited $code" >&2; exit "$code"; }
"#;

const GRPCURL_SHIM: &str = r#"#!/usr/bin/env bash
# Hands the call to the test, which makes it and answers with the exit status and the output.
printf '%s\0' grpcurl "${README_CALL:-}" "$@" > "$README_REQUEST"
{ IFS= read -r code; cat; } < "$README_ANSWER"
cat "$README_STDERR" >&2
exit "$code"
"#;

const JQ_SHIM: &str = r#"#!/usr/bin/env bash
# Reads all its input first, so that it asks the test only once the call before it has ended.
input=$(cat; printf x)
printf '%s\0' jq "$@" "" "${input%x}" > "$README_REQUEST"
{ IFS= read -r code; cat; } < "$README_ANSWER"
cat "$README_STDERR" >&2
exit "$code"
"#;

/// The contract's methods by full name, as reflection serves them to grpcurl.
fn descriptors() -> DescriptorPool {
    let mut pool = DescriptorPool::decode(samvirke::proto::FILE_DESCRIPTOR_SET).unwrap();
    pool.decode_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET).unwrap();
    pool
}

/// A grpcurl request body as grpcurl reads it: a field mask given as a string is refused
/// (grpcurl's issue 393), and one given as `{"paths": [...]}` is read.
fn grpcurl_masks(desc: &MessageDescriptor, json: &mut Value) -> Result<(), String> {
    let Value::Object(map) = json else { return Ok(()) };
    for (key, value) in map.iter_mut() {
        let Some(field) = desc.get_field_by_json_name(key).or_else(|| desc.get_field_by_name(key))
        else {
            continue;
        };
        let Kind::Message(inner) = field.kind() else { continue };
        if inner.full_name() == "google.protobuf.FieldMask" {
            *value = match value {
                Value::Object(mask) => {
                    let paths = mask.get("paths").and_then(Value::as_array).cloned();
                    let paths = paths.ok_or("a field mask object needs \"paths\"")?;
                    let camel: Vec<String> =
                        paths.iter().filter_map(Value::as_str).map(lower_camel_path).collect();
                    Value::String(camel.join(","))
                }
                _ => return Err(format!("grpcurl cannot read field mask `{key}` as a string")),
            };
            continue;
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    grpcurl_masks(&inner, item)?;
                }
            }
            other => grpcurl_masks(&inner, other)?,
        }
    }
    Ok(())
}

fn lower_camel_path(path: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in path.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// What one shim is answered: exit status, stdout, stderr.
struct Answer {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Answer {
    fn fail(message: String) -> Answer {
        Answer { status: 1, stdout: String::new(), stderr: format!("{message}\n") }
    }
}

/// Plays grpcurl and jq for the script, and checks each call against the README.
struct Harness {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    pool: DescriptorPool,
    expects: Vec<Expect>,
    placeholders: HashMap<String, String>,
    known_placeholders: BTreeSet<String>,
    made: BTreeSet<usize>,
    failures: Vec<String>,
}

impl Harness {
    fn serve(&mut self, fields: Vec<String>) -> Answer {
        match fields.first().map(String::as_str) {
            Some("grpcurl") => self.grpcurl(&fields[1], &fields[2..]),
            Some("jq") => {
                let split = fields[1..].iter().position(String::is_empty).unwrap_or(0) + 1;
                jq(&fields[1..split], &fields[split + 1..].join("\0"))
            }
            _ => Answer::fail(format!("readme test: unknown request {fields:?}")),
        }
    }

    fn grpcurl(&mut self, call: &str, args: &[String]) -> Answer {
        let Ok(n) = call.parse::<usize>() else {
            self.failures.push(format!("a grpcurl call the test did not number: {args:?}"));
            return Answer::fail("grpcurl not at the start of a README line".into());
        };
        let line = self.expects[n].line;
        self.made.insert(n);
        let mut headers = Vec::new();
        let mut body = None;
        let mut positional = Vec::new();
        let mut plaintext = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-plaintext" => plaintext = true,
                "-H" => headers.push(args.next().cloned().unwrap_or_default()),
                "-d" => body = args.next().cloned(),
                flag if flag.starts_with('-') => {
                    self.failures.push(format!("README.md:{line}: grpcurl {flag} not emulated"));
                    return Answer::fail(format!("unknown flag {flag}"));
                }
                other => positional.push(other.to_owned()),
            }
        }
        let [address, method] = positional.as_slice() else {
            self.failures.push(format!("README.md:{line}: grpcurl wants ADDRESS METHOD"));
            return Answer::fail("grpcurl wants ADDRESS METHOD".into());
        };
        if !plaintext || address.is_empty() {
            self.failures.push(format!("README.md:{line}: no -plaintext or no address"));
        }
        let mut body = body.unwrap_or_else(|| "{}".into());
        for (placeholder, value) in &self.placeholders {
            body = body.replace(placeholder.as_str(), value);
        }
        if let Some(left) = self.known_placeholders.iter().find(|p| body.contains(p.as_str())) {
            self.failures.push(format!("README.md:{line}: {left} is used before it is copied"));
        }
        if body.contains("YOUR-") {
            self.failures.push(format!("README.md:{line}: a placeholder nothing copies: {body}"));
        }
        let answer = self.call(method, &headers, &body);
        let expect = &self.expects[n];
        let got = match &answer {
            Ok(_) => Code::Ok,
            Err((code, _)) => *code,
        };
        if got != expect.code {
            let detail = match &answer {
                Ok(json) => json.to_string(),
                Err((_, message)) => message.clone(),
            };
            self.failures.push(format!(
                "README.md:{line}: {method} answered {got:?}, the README says {:?}: {detail}",
                expect.code
            ));
        }
        match answer {
            Ok(json) => {
                let parsed: Vec<Value> = serde_json::Deserializer::from_str(&json)
                    .into_iter::<Value>()
                    .collect::<Result<_, _>>()
                    .unwrap();
                if let Some(first) = parsed.first() {
                    self.check_answer(n, first);
                }
                Answer { status: 0, stdout: json, stderr: String::new() }
            }
            Err((code, message)) => Answer {
                status: 64 + code as i32,
                stdout: String::new(),
                stderr: format!("ERROR:\n  Code: {code:?}\n  Message: {message}\n"),
            },
        }
    }

    fn check_answer(&mut self, n: usize, answer: &Value) {
        let expect = &self.expects[n];
        for (key, value) in &expect.fields {
            if !holds(answer, key, value) {
                self.failures.push(format!(
                    "README.md:{}: the answer has no \"{key}\": {value}: {answer}",
                    expect.line
                ));
            }
        }
        let Some(copy) = &expect.copy else { return };
        let found = if copy.path == "it" {
            answer.as_object().and_then(|map| map.values().next()).and_then(|v| v.get("name"))
        } else {
            copy.path.split('.').try_fold(answer, |value, key| value.get(lower_camel_path(key)))
        };
        let text = found.and_then(Value::as_str).unwrap_or_default();
        match text.strip_prefix(&copy.prefix).and_then(|t| t.strip_suffix(&copy.suffix)) {
            Some(value) if !value.is_empty() => {
                self.placeholders.insert(copy.placeholder.clone(), value.to_owned());
            }
            _ => self.failures.push(format!(
                "README.md:{}: no {} of the shape {}{}{} to copy in {answer}",
                expect.line, copy.path, copy.prefix, copy.placeholder, copy.suffix
            )),
        }
    }

    /// Calls `method` with the JSON `body`; the answer's messages as grpcurl prints them.
    fn call(&self, method: &str, headers: &[String], body: &str) -> Result<String, (Code, String)> {
        let local = |message: String| (Code::Unknown, message);
        let (service, name) = method.split_once('/').ok_or_else(|| local(method.into()))?;
        let method = self
            .pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == name))
            .ok_or_else(|| local(format!("no method {method}")))?;
        let mut json: Value =
            serde_json::from_str(body).map_err(|e| local(format!("bad JSON: {e}")))?;
        grpcurl_masks(&method.input(), &mut json).map_err(local)?;
        let request = DynamicMessage::deserialize(method.input(), json)
            .map_err(|e| local(format!("error getting request data: {e}")))?;
        let mut request = tonic::Request::new(request.encode_to_vec());
        for header in headers {
            let (key, value) = header.split_once(':').ok_or_else(|| local(header.clone()))?;
            let key =
                tonic::metadata::MetadataKey::from_bytes(key.trim().to_lowercase().as_bytes())
                    .map_err(|e| local(e.to_string()))?;
            request
                .metadata_mut()
                .insert(key, value.trim().parse().map_err(|_| local(header.clone()))?);
        }
        let path = http::uri::PathAndQuery::from_str(&format!("/{service}/{name}")).unwrap();
        let print = |bytes: Vec<u8>| {
            let message = DynamicMessage::decode(method.output(), bytes.as_slice()).unwrap();
            serde_json::to_string_pretty(&message).unwrap() + "\n"
        };
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        self.runtime.block_on(async {
            grpc.ready().await.map_err(|e| local(e.to_string()))?;
            if !method.is_server_streaming() {
                let answer = grpc.unary(request, path, Raw).await;
                return answer
                    .map(|a| print(a.into_inner()))
                    .map_err(|s| (s.code(), s.message().into()));
            }
            // A stream runs until the reader stops it: what it sends in its first second.
            let mut stream = grpc
                .server_streaming(request, path, Raw)
                .await
                .map_err(|s| (s.code(), s.message().to_owned()))?
                .into_inner();
            let mut out = String::new();
            while let Ok(next) =
                tokio::time::timeout(Duration::from_secs(1), stream.message()).await
            {
                match next {
                    Ok(Some(message)) => out.push_str(&print(message)),
                    Ok(None) => break,
                    Err(status) => return Err((status.code(), status.message().to_owned())),
                }
            }
            Ok(out)
        })
    }
}

/// `jq -r .a.b`: the string at that path, printed raw.
fn jq(args: &[String], input: &str) -> Answer {
    let [raw, path] = args else { return Answer::fail(format!("jq {args:?} is not emulated")) };
    if raw != "-r" || !path.starts_with('.') {
        return Answer::fail(format!("jq {args:?} is not emulated"));
    }
    let Ok(json) = serde_json::from_str::<Value>(input) else {
        return Answer::fail("jq: input is not JSON".into());
    };
    let found = path[1..].split('.').try_fold(&json, |value, key| value.get(key));
    match found.and_then(Value::as_str) {
        Some(text) => Answer { status: 0, stdout: format!("{text}\n"), stderr: String::new() },
        None => Answer::fail(format!("jq: no string at {path}")),
    }
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let mut permissions = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(path, permissions).unwrap();
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs the README's first session against the binary on the database `env` names.
fn run_readme(env: &[(&str, String)]) {
    let readme = readme();
    let blocks = sh_blocks(&readme);
    let (script, expects) = script(&blocks);
    assert!(expects.len() > 20, "the README's grpcurl calls were not found");

    let dir = std::env::temp_dir().join(format!("samvirke-readme-{}", uuid::Uuid::now_v7()));
    let shims = dir.join(".shims");
    std::fs::create_dir_all(&shims).unwrap();
    std::os::unix::fs::symlink(Path::new(REPO).join("registry"), dir.join("registry")).unwrap();
    write_executable(&shims.join("cargo"), CARGO_SHIM);
    write_executable(&shims.join("grpcurl"), GRPCURL_SHIM);
    write_executable(&shims.join("jq"), JQ_SHIM);
    let (request, answer, stderr) =
        (shims.join("request"), shims.join("answer"), shims.join("stderr"));
    mkfifo(&request);
    mkfifo(&answer);
    std::fs::write(dir.join("readme.sh"), &script).unwrap();

    let server_log = File::create(shims.join("server.log")).unwrap();
    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("SAMVIRKE_DATABASE_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(server_log)
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let address = first.trim().strip_prefix("listening on ").map(str::to_owned);
    let Some(address) = address else {
        let _ = server.kill();
        let log = std::fs::read_to_string(shims.join("server.log")).unwrap_or_default();
        panic!("the server did not start: {first:?}\n{log}");
    };

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let channel = runtime
        .block_on(Channel::from_shared(format!("http://{address}")).unwrap().connect())
        .unwrap();
    let known_placeholders =
        expects.iter().filter_map(|e| e.copy.as_ref()).map(|c| c.placeholder.clone()).collect();
    let mut harness = Harness {
        runtime,
        channel,
        pool: descriptors(),
        expects,
        placeholders: HashMap::new(),
        known_placeholders,
        made: BTreeSet::new(),
        failures: Vec::new(),
    };

    let path = format!("{}:{}", shims.display(), std::env::var("PATH").unwrap_or_default());
    let mut bash = Command::new("bash")
        .args(["--noprofile", "--norc", "readme.sh"])
        .current_dir(&dir)
        .env_remove("SAMVIRKE_DATABASE_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PATH", path)
        .env("SAMVIRKE_BIN", BIN)
        .env("README_REQUEST", &request)
        .env("README_ANSWER", &answer)
        .env("README_STDERR", &stderr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bash_out = bash.stdout.take().unwrap();
    let bash_err = bash.stderr.take().unwrap();
    let outputs = std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let reader = std::thread::spawn(move || {
            let mut err = String::new();
            BufReader::new(bash_err).read_to_string(&mut err).unwrap();
            err
        });
        BufReader::new(bash_out).read_to_string(&mut out).unwrap();
        err.push_str(&reader.join().unwrap());
        (out, err)
    });
    // When bash is done (or stuck past the deadline), tell the loop below to stop.
    let stopper = {
        let request = request.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(300);
            let status = loop {
                if let Some(status) = bash.try_wait().unwrap() {
                    break Some(status);
                }
                if std::time::Instant::now() > deadline {
                    let _ = bash.kill();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            File::create(&request).unwrap().write_all(b"stop\0").unwrap();
            status
        })
    };
    loop {
        let mut raw = Vec::new();
        File::open(&request).unwrap().read_to_end(&mut raw).unwrap();
        let mut fields: Vec<String> =
            String::from_utf8(raw).unwrap().split('\0').map(str::to_owned).collect();
        fields.pop(); // after the last NUL
        if fields.first().map(String::as_str) == Some("stop") {
            break;
        }
        let reply = harness.serve(fields);
        std::fs::write(&stderr, &reply.stderr).unwrap();
        let mut out = File::create(&answer).unwrap();
        out.write_all(format!("{}\n{}", reply.status, reply.stdout).as_bytes()).unwrap();
    }
    let status = stopper.join().unwrap();
    let (out, err) = outputs.join().unwrap();

    let mut failures = std::mem::take(&mut harness.failures);
    if status.is_none() {
        failures.push("the README's commands ran past five minutes".into());
    }
    for (n, expect) in harness.expects.iter().enumerate() {
        if !harness.made.contains(&n) {
            failures.push(format!("README.md:{}: this grpcurl call was never made", expect.line));
        }
    }
    for line in err.lines() {
        if ["command not found", "syntax error", "unbound variable", "No such file", "readme test:"]
            .iter()
            .any(|bad| line.contains(bad))
        {
            failures.push(format!("bash: {line}"));
        }
    }
    for target in script.split("> ").skip(1).filter_map(|t| t.split_whitespace().next()) {
        let written = std::fs::read(dir.join(target)).unwrap_or_default();
        if written.is_empty() {
            failures.push(format!("nothing was written to {target}"));
        } else if target.ends_with(".pdf") && !written.starts_with(b"%PDF-") {
            failures.push(format!("{target} is not a PDF"));
        }
    }
    let migrate = Command::new(BIN)
        .arg("migrate")
        .current_dir(&dir)
        .env_remove("SAMVIRKE_DATABASE_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    if !migrate.status.success() {
        failures.push(format!("samvirke migrate: {}", String::from_utf8_lossy(&migrate.stderr)));
    }

    let _ = server.kill();
    let _ = server.wait();
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "the README's commands do not work as written (run in {}):\n{}\n--- bash stdout\n{out}\n--- bash stderr\n{err}",
        dir.display(),
        failures.join("\n")
    );
}

#[test]
fn the_first_session_works_as_written_on_sqlite() {
    run_readme(&[]);
}

#[test]
fn the_first_session_works_as_written_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (url, _schema) = runtime.block_on(fresh_postgres_schema());
    run_readme(&[("SAMVIRKE_DATABASE_URL", url), ("SAMVIRKE_ALLOW_DEV_KEYS", "true".into())]);
}

/// The blocks not run are the ones named, and what they name exists.
#[test]
fn the_commands_not_run_here_are_known() {
    let readme = readme();
    let blocks = sh_blocks(&readme);
    for (text, why) in NOT_RUN {
        assert!(
            blocks.iter().any(|b| b.text.trim() == *text),
            "README.md no longer holds `{text}` ({why}): update NOT_RUN"
        );
    }
    let statements = Path::new(REPO).join("scripts/statements");
    let mode = std::fs::metadata(&statements).map(|m| m.permissions());
    let executable =
        mode.map(|m| std::os::unix::fs::PermissionsExt::mode(&m) & 0o111 != 0).unwrap_or(false);
    assert!(executable, "scripts/statements is missing or not executable");
}

/// Every flag and environment variable the README names is one the binary has.
#[test]
fn every_flag_the_readme_names_exists() {
    let mut help = String::new();
    for command in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["token", "--help"],
        &["grant", "--help"],
        &["bench", "--help"],
        &["synthetic-id", "--help"],
        &["organisations", "import", "--help"],
    ] {
        let output = Command::new(BIN).args(command).output().unwrap();
        assert!(output.status.success(), "samvirke {command:?} failed");
        help.push_str(&String::from_utf8(output.stdout).unwrap());
    }
    let readme = readme();
    let mut missing = BTreeSet::new();
    for (at, _) in readme.match_indices("--") {
        let name: String = readme[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let flag = format!("--{name}");
        if name.starts_with(|c: char| c.is_ascii_lowercase())
            && !OTHER_TOOLS_FLAGS.contains(&flag.as_str())
            && !help.contains(&format!("{flag} "))
            && !help.contains(&format!("{flag}\n"))
            && !help.contains(&format!("{flag}="))
            && !help.contains(&format!("{flag},"))
        {
            missing.insert(flag);
        }
    }
    for (at, _) in readme.match_indices("SAMVIRKE_") {
        let name: String =
            readme[at..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
        let name = name.trim_end_matches('_');
        if name != "SAMVIRKE" && !NOT_SERVER_ENV.contains(&name) && !help.contains(name) {
            missing.insert(name.to_owned());
        }
    }
    assert!(missing.is_empty(), "README.md names what `samvirke --help` does not: {missing:?}");
}
