"""A discarding SMTP server on loopback:
python3 smtp_sink.py PORT COUNT_FILE [RECIPIENTS_FILE [MESSAGES_DIR]].
Writes how many messages it received to COUNT_FILE (the benchmark reads progress there) and, when
given, appends each message's recipients to RECIPIENTS_FILE (the scale-out check counts them) and
keeps each message as MESSAGES_DIR/<n>.eml (the browser check follows the links in them)."""
import asyncore
import os
import smtpd
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
port = int(sys.argv[1])
count_file = sys.argv[2]
recipients_file = sys.argv[3] if len(sys.argv) > 3 else None
messages_dir = sys.argv[4] if len(sys.argv) > 4 else None


class Sink(smtpd.SMTPServer):
    received = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.received += 1
        # Written aside and renamed over: a reader never sees the file empty mid-write.
        with open(count_file + ".tmp", "w") as out:
            out.write(str(Sink.received))
        os.replace(count_file + ".tmp", count_file)
        if recipients_file:
            with open(recipients_file, "a") as out:
                out.write("".join(to + "\n" for to in rcpttos))
        if messages_dir:
            path = os.path.join(messages_dir, f"{Sink.received}.eml")
            with open(path + ".tmp", "wb") as out:
                out.write(data if isinstance(data, bytes) else data.encode())
            os.replace(path + ".tmp", path)


Sink(("127.0.0.1", port), None)
asyncore.loop()
