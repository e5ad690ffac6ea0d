"""A discarding SMTP server for the email sender benchmark: python3 smtp_sink.py PORT.
Counts messages in a file (PORT.count) so the benchmark can read progress."""
import asyncore
import smtpd
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
port = int(sys.argv[1])
count_file = sys.argv[2]


class Sink(smtpd.SMTPServer):
    received = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.received += 1
        with open(count_file, "w") as out:
            out.write(str(Sink.received))


Sink(("127.0.0.1", port), None)
asyncore.loop()
