//! A real SMTP server on 127.0.0.1:0 for one test: mailin's protocol state machine behind a small
//! TCP loop. It records what it receives and can be told to refuse.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use mailin::{Action, Handler, Response, SessionBuilder};

/// How the server answers at the end of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 451 on the recipient: try again later.
    RefuseTemporarily,
    /// 550 on the recipient: never deliverable.
    RefusePermanently,
}

/// One message as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a MIME message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().into_owned()
    }

    pub fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    /// The invitation token in the text body's link.
    pub fn token(&self) -> String {
        let text = self.text();
        let start = text.find("token=").expect("a link with a token") + "token=".len();
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
    /// How long the server thinks before accepting a message's data.
    delay: Arc<Mutex<std::time::Duration>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP sink");
        let sink = SmtpSink {
            port: listener.local_addr().expect("address").port(),
            received: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            delay: Arc::default(),
        };
        let accepting = sink.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let connection = accepting.clone();
                std::thread::spawn(move || connection.serve(stream));
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    /// Makes the server slow: each message's data is answered only after `delay`.
    pub fn set_delay(&self, delay: std::time::Duration) {
        *self.delay.lock().expect("delay") = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("received").clone()
    }

    fn serve(self, stream: TcpStream) {
        let peer = stream
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let handler = Recorder {
            sink: self,
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut session = SessionBuilder::new("sink.test").build(peer, handler);
        if session.greeting().write_to(&mut writer).is_err() {
            return;
        }
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let response = session.process(&line);
            match response.action {
                Action::NoReply => {}
                Action::Reply => {
                    if response.write_to(&mut writer).is_err() {
                        return;
                    }
                }
                Action::Close | Action::UpgradeTls => {
                    let _ = response.write_to(&mut writer);
                    let _ = writer.flush();
                    return;
                }
            }
        }
    }
}

struct Recorder {
    sink: SmtpSink,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    fn rcpt(&mut self, _to: &str) -> Response {
        // Refusals happen at RCPT: mailin stays in its DATA state after an error at the end of
        // the data, which would leave the client waiting.
        match *self.sink.mode.lock().expect("mode") {
            Mode::Accept => mailin::response::OK,
            Mode::RefuseTemporarily => Response::custom(451, "try again later".to_owned()),
            Mode::RefusePermanently => mailin::response::NO_MAILBOX,
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let delay = *self.sink.delay.lock().expect("delay");
        std::thread::sleep(delay);
        self.sink.received.lock().expect("received").push(Received {
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.data),
        });
        mailin::response::OK
    }
}
