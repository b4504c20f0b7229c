# The command of the demo, run by tend as PID 1 (see demo/run).
say() { printf 'demo: %s\n' "$*"; }

say "I am pid $$; tend is pid 1 and my parent ($PPID)"
say "1. making 3 orphans; tend adopts and reaps them (-w logs each)"
for i in 1 2 3; do (sleep 0.$i &) ; done
sleep 0.5

say "2. sending SIGHUP to pid 1; tend forwards it to me"
trap 'say "   got SIGHUP, forwarded by tend"' HUP
kill -HUP 1
sleep 0.2

say "3. starting a grandchild that needs 1 s to clean up on SIGTERM"
(
	trap 'say "   grandchild: SIGTERM, cleaning up for 1 s"; sleep 1;
	      say "   grandchild: clean, exiting"; exit 0' TERM
	sleep 1000 & wait
) &
sleep 0.2
say "4. exiting with status 3: tend sends SIGTERM to what is left, waits"
say "   for it (at most -t 3 s) and exits 3 as soon as all is reaped"
exit 3
