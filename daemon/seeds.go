package daemon

// TestHostsEnv names the environment variable that a ringd built with the
// "testhosts" tag reads to resolve --join names without DNS, as
// "name=ip,ip;other=ip": the tests that start the Helm chart's rendered pods
// as processes resolve the headless Service's name to the members'
// loopback addresses with it. A normal build ignores it.
const TestHostsEnv = "RINGD_TEST_HOSTS"
