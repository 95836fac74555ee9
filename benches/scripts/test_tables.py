"""tables.py's reading of a results file: cases measured in rounds become
one record, the median round, and the verdicts use it.

    python3 -m unittest discover -s benches/scripts
"""

import io
import unittest
from contextlib import redirect_stdout

import tables


def w1(contender, rate, client_cpu=0.5, param=100):
    return {"workload": "w1", "transport": "loopback", "contender": contender, "param": param,
            "deliveries_per_s": rate, "client_cpu": client_cpu}


class Medians(unittest.TestCase):
    def test_a_case_in_rounds_is_its_median_round_with_every_rate(self):
        rounds = [w1("redis", 3e6, 0.5), w1("redis", 1e6, 0.95), w1("redis", 2e6, 0.7)]
        (median,) = tables.medians(rounds)
        self.assertEqual(median["deliveries_per_s"], 2e6)
        self.assertEqual(median["client_cpu"], 0.7, "the other fields are the median round's")
        self.assertEqual(median["rounds"], [1e6, 2e6, 3e6])

    def test_an_even_count_takes_the_lower_middle(self):
        (median,) = tables.medians([w1("nats", 4.0), w1("nats", 1.0), w1("nats", 3.0), w1("nats", 2.0)])
        self.assertEqual(median["deliveries_per_s"], 2.0)

    def test_failed_rounds_stay_apart_and_other_records_pass_unchanged(self):
        failed = {"workload": "w1", "transport": "loopback", "contender": "nchan", "param": 1, "error": "stalled"}
        steps = [{"workload": "w5_step", "transport": "loopback", "contender": "pushbus", "param": 1000,
                  "deliveries_per_s": rate, "rate": rate} for rate in (1.0, 2.0)]
        in_process = {**w1("tokio", 9.0), "transport": "in-process"}
        out = tables.medians([failed, w1("nchan", 5.0, param=1), *steps, in_process])
        self.assertIn(failed, out)
        self.assertEqual([r for r in out if r["workload"] == "w5_step"], steps)
        self.assertIn(in_process, out)
        self.assertEqual([r["rounds"] for r in out if "rounds" in r], [[5.0]])

    def test_the_verdict_compares_medians(self):
        # pushbus wins one round of three by a wide margin and loses two:
        # the median says not met.
        records = [w1("pushbus (c server)", rate) for rate in (9e6, 1e6, 1.1e6)]
        records += [w1("redis", rate) for rate in (2e6, 2.1e6, 1.9e6)]
        printed = io.StringIO()
        with redirect_stdout(printed):
            tables.targets(tables.medians(records))
        self.assertIn("| W1 | loopback | 100 | **NOT met** | Redis pub/sub (1.82x) |", printed.getvalue())

    def test_a_cell_shows_the_median_and_the_range(self):
        printed = io.StringIO()
        with redirect_stdout(printed):
            tables.throughput(tables.medians([w1("pushbus (c server)", r) for r in (2e6, 3e6, 2.5e6)]),
                              "w1", "W1")
        self.assertIn("| 2.5 M/s [2 M–3 M] |", printed.getvalue())
        self.assertIn("median of 3 rounds", printed.getvalue())


if __name__ == "__main__":
    unittest.main()
