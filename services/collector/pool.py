"""The three things the collector asks of an HTCondor pool, behind one small interface.

`HTCondorPool` talks to real collectors and schedds through the htcondor2 bindings. `FilePool` answers the
same questions from ad files on disk (real ClassAds, constraints really evaluated), so the collector can be
driven end to end without a pool: tests, demos, replays.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import classad2

from services.common.adfile import read_ads


class PoolError(RuntimeError):
    """A collector or schedd could not be queried; the message names it and says why."""


class PoolTimeout(PoolError):
    """A collector or schedd did not answer in time."""


class Pool(Protocol):
    def schedd_ads(self, collector: str, constraint: str, projection: list[str]) -> list[classad2.ClassAd]:
        """Schedd ads one collector host knows; raises PoolError if the host cannot be queried."""
        ...

    def query_queue(self, schedd: classad2.ClassAd, constraint: str) -> list[classad2.ClassAd]: ...

    def query_history(self, schedd: classad2.ClassAd, constraint: str, match: int) -> list[classad2.ClassAd]:
        """At most `match` (all if -1) history ads matching `constraint`, most recently recorded first."""
        ...


def _child(conn: Connection, call: str, args: tuple) -> None:
    """Runs in a child process: one htcondor2 call, its ads sent back as old-syntax text."""
    import htcondor2

    try:
        if call == "collector":
            host, constraint, projection = args
            ads = htcondor2.Collector(host).query(htcondor2.AdTypes.Schedd, constraint, projection)
        elif call == "queue":
            schedd, constraint = args
            ads = htcondor2.Schedd(classad2.parseOne(schedd)).query(constraint)
        else:
            schedd, constraint, match = args
            ads = htcondor2.Schedd(classad2.parseOne(schedd)).history(constraint, [], match=match)
        conn.send((None, [ad.printOld() for ad in ads]))
    except Exception as exc:
        conn.send((f"{exc}" or type(exc).__name__, None))
    finally:
        conn.close()


class HTCondorPool:
    """The production pool: htcondor2 Collector and Schedd clients, each call in a child process.

    The bindings hold the GIL while they wait on the network (a hung schedd would freeze every thread of the
    collector for HTCondor's own 20 s+ timeouts), so each call runs in a child process that is killed at
    `timeout_s`. Children fork from a fresh fork-server interpreter (never from this multi-threaded process)
    that has the bindings preloaded.
    """

    def __init__(self, timeout_s: float = 300.0) -> None:
        self.timeout_s = timeout_s
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["htcondor2", "classad2"])

    def _call(self, what: str, call: str, *args: object) -> list[classad2.ClassAd]:
        receiver, sender = self._context.Pipe(duplex=False)
        child = self._context.Process(target=_child, args=(sender, call, args), daemon=True)
        child.start()
        sender.close()
        try:
            if not receiver.poll(self.timeout_s):
                raise PoolTimeout(f"{what}: no answer in {self.timeout_s:g} s")
            error, texts = receiver.recv()
        except EOFError:
            raise PoolError(f"{what}: query process died (exit code {child.exitcode})") from None
        finally:
            receiver.close()
            child.kill()
            child.join()
        if error is not None:
            raise PoolError(f"{what}: {error}")
        return [classad2.parseOne(text, classad2.ParserType.Old) for text in texts]

    def schedd_ads(self, collector: str, constraint: str, projection: list[str]) -> list[classad2.ClassAd]:
        return self._call(f"collector {collector}", "collector", collector, constraint, projection)

    def query_queue(self, schedd: classad2.ClassAd, constraint: str) -> list[classad2.ClassAd]:
        return self._call(f"schedd {schedd.get('Name')}: queue query", "queue", schedd.printOld(), constraint)

    def query_history(self, schedd: classad2.ClassAd, constraint: str, match: int) -> list[classad2.ClassAd]:
        what = f"schedd {schedd.get('Name')}: history query"
        return self._call(what, "history", schedd.printOld(), constraint, match)


class FilePool:
    """A pool made of files under `root`.

    root/collectors/<host>.ads        schedd ads that collector host returns (missing file: host unreachable)
    root/schedds/<name>/queue.ads     the schedd's job queue
    root/schedds/<name>/history.ads   its history, oldest first as in a schedd history file

    Files are re-read on every query, so a test can append history between runs.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def _matching(path: Path, constraint: str) -> list[classad2.ClassAd]:
        if not path.exists():
            return []
        expr = classad2.ExprTree(constraint)
        return [rec.ad for rec in read_ads(path) if rec.ad is not None and expr.eval(rec.ad) is True]

    def schedd_ads(self, collector: str, constraint: str, projection: list[str]) -> list[classad2.ClassAd]:
        path = self.root / "collectors" / f"{collector}.ads"
        if not path.exists():
            raise PoolError(f"collector {collector}: unreachable (no {path})")
        ads = self._matching(path, constraint)
        return [classad2.ClassAd({k: ad[k] for k in projection if k in ad}) for ad in ads]

    def _schedd_dir(self, schedd: classad2.ClassAd) -> Path:
        path = self.root / "schedds" / str(schedd["Name"])
        if not path.is_dir():
            raise PoolError(f"schedd {schedd['Name']}: unreachable (no {path})")
        return path

    def query_queue(self, schedd: classad2.ClassAd, constraint: str) -> list[classad2.ClassAd]:
        return self._matching(self._schedd_dir(schedd) / "queue.ads", constraint)

    def query_history(self, schedd: classad2.ClassAd, constraint: str, match: int) -> list[classad2.ClassAd]:
        ads = self._matching(self._schedd_dir(schedd) / "history.ads", constraint)[::-1]
        return ads if match < 0 else ads[:match]
