"""The listener's endpoint list (``spark.sparkprobe.endpoint=a:7733,b:7733``, and names with several
addresses): parsing, the order of a round, and where a round starts after a connection ended.

``io.sparkprobe.Endpoints`` is compiled from the listener's source with a small Java harness that
prints what it does; no Spark is started. The failover itself runs on real Spark in
tests/spark/test_failover_spark.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import REPO, find_javac, need_binary

HARNESS = r"""
package io.sparkprobe;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

public final class EndpointsHarness {
    public static void main(String[] args) throws Exception {
        Endpoints.Parsed p = Endpoints.parse(
                " a.test:7733, [::1]:7734,, bad, b.test:0, c.test:70000, ::1:5, d.test:7735 ");
        System.out.println("ENTRIES " + p.entries);
        System.out.println("INVALID " + p.invalid);
        final Map<String, InetAddress[]> dns = new HashMap<String, InetAddress[]>();
        dns.put("a.test", new InetAddress[] {InetAddress.getByName("127.0.0.2"), InetAddress.getByName("127.0.0.3")});
        dns.put("::1", new InetAddress[] {InetAddress.getByName("::1")});
        Endpoints.Resolver fake = new Endpoints.Resolver() {
            @Override
            public InetAddress[] resolve(String host) throws UnknownHostException {
                InetAddress[] found = dns.get(host);
                if (found == null) {
                    throw new UnknownHostException(host);
                }
                return found;
            }
        };
        for (int offset = 0; offset < 3; offset++) {
            Endpoints e = new Endpoints(p.entries, fake, offset);
            e.newRound();
            StringBuilder order = new StringBuilder();
            Endpoints.Target t;
            Endpoints.Target first = null;
            while ((t = e.next()) != null) {
                if (first == null) {
                    first = t;
                }
                order.append(t.address.getAddress().getHostAddress()).append(':').append(t.address.getPort())
                        .append('/').append(t.entry.host).append(' ');
            }
            System.out.println("ROUND " + offset + " " + order.toString().trim() + " UNRESOLVED " + e.unresolved);
            e.newRoundAfter(first);
            System.out.println("AFTER " + offset + " " + e.round().get(e.round().size() - 1).address.getPort() + " "
                    + e.round().get(e.round().size() - 1).address.getAddress().getHostAddress()
                    + " FIRST " + e.round().get(0).address.getAddress().getHostAddress() + ":"
                    + e.round().get(0).address.getPort());
        }
    }
}
"""


@pytest.fixture(scope="module")
def harness_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    javac = find_javac() or need_binary("javac")
    build = tmp_path_factory.mktemp("endpoints")
    src = build / "src" / "io" / "sparkprobe"
    src.mkdir(parents=True)
    (src / "EndpointsHarness.java").write_text(HARNESS)
    endpoints = REPO / "jvm-listener" / "src" / "main" / "java" / "io" / "sparkprobe" / "Endpoints.java"
    classes = build / "classes"
    proc = subprocess.run([javac, "-nowarn", "--release", "8", "-d", str(classes), str(endpoints),
                           str(src / "EndpointsHarness.java")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    java = str(Path(javac).with_name("java"))
    proc = subprocess.run([java, "-cp", str(classes), "io.sparkprobe.EndpointsHarness"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def line(out: str, prefix: str) -> str:
    (found,) = [x[len(prefix):].strip() for x in out.splitlines() if x.startswith(prefix)]
    return found


def test_the_endpoint_list_is_parsed_and_bad_entries_named(harness_output: str) -> None:
    assert line(harness_output, "ENTRIES") == "[a.test:7733, [::1]:7734, d.test:7735]"
    # No port, port 0, port past 65535, an IPv6 address without brackets: named for the warning.
    assert line(harness_output, "INVALID") == "[bad, b.test:0, c.test:70000, ::1:5]"


def test_a_round_is_every_address_of_every_entry_rotated_per_listener(harness_output: str) -> None:
    rounds = {i: line(harness_output, f"ROUND {i}") for i in range(3)}
    # offset 0: a.test's two addresses, then ::1; d.test does not resolve (named, skipped).
    assert rounds[0] == "127.0.0.2:7733/a.test 127.0.0.3:7733/a.test 0:0:0:0:0:0:0:1:7734/::1 UNRESOLVED [d.test]"
    # Other listeners start elsewhere, so the drivers of many apps spread over the agents.
    assert rounds[1].split()[0] == "0:0:0:0:0:0:0:1:7734/::1"
    assert rounds[2].split()[0] == "127.0.0.2:7733/a.test"
    for text in rounds.values():  # every round holds every address once
        assert sorted(text.split(" UNRESOLVED")[0].split()) == sorted(rounds[0].split(" UNRESOLVED")[0].split())


def test_after_a_connection_ends_its_agent_is_tried_last(harness_output: str) -> None:
    after0 = line(harness_output, "AFTER 0")
    assert after0.startswith("7733 127.0.0.2 ")  # the agent it was connected to comes last...
    assert after0.endswith("FIRST 127.0.0.3:7733")  # ...and the other address of the same name first
