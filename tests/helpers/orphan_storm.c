/*
 * orphan_storm.c: makes COUNT orphans for the init above, at most WAVE
 * alive at once (pid_max is often 32768): each is the child of a
 * process that exits at once, so it is re-parented to the init (or
 * subreaper), which must reap it. The orphans of a wave wait on a pipe
 * until all of them exist, then exit together. Prints "made COUNT".
 *
 *   orphan_storm COUNT [WAVE]
 *
 * Built by the tests with the C compiler at hand (a Python helper
 * forks too slowly for 100,000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 1000;
	long wave = argc > 2 ? atol(argv[2]) : 2000;
	long made = 0;

	while (made < count) {
		long n = count - made < wave ? count - made : wave, i;
		int release[2];
		char c;

		if (pipe(release) < 0) {
			perror("pipe");
			return 1;
		}
		for (i = 0; i < n; i++) {
			pid_t mid = fork();

			if (mid < 0) {
				perror("fork");
				return 1;
			}
			if (mid == 0) {
				pid_t orphan = fork();

				if (orphan == 0) {
					close(release[1]);
					/* blocks until the wave is released */
					if (read(release[0], &c, 1) < 0)
						_exit(1);
					_exit(0);
				}
				_exit(orphan < 0);
			}
		}
		for (i = 0; i < n; i++) {	/* the parents of the wave */
			int status;

			if (wait(&status) < 0 || status != 0) {
				fprintf(stderr, "orphan_storm: a fork failed\n");
				return 1;
			}
		}
		close(release[0]);
		close(release[1]);	/* the whole wave exits at once */
		made += n;
	}
	printf("made %ld\n", made);
	return 0;
}
