// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hostile client of scx_arbor's control socket, for tests/vm_faults.rs:
 * the guest has no tool that speaks to a Unix socket, so the test builds
 * this statically on the host and copies it in.
 *
 *   hostile-client SOCKET MODE
 *
 * Modes: garbage, longline (10 MB without a newline), half (half a swap
 * payload, then a half-close), hangup (half a payload, then close without
 * reading), flood (100 silent clients held for 8 s), noread (50 status
 * requests whose replies are never read, held for 2 s). Every reply
 * received is printed as "reply MODE <json>"; the exit code is 0 if the
 * client could do its part (connect and send).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *sock_path;

static int conn(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	strncpy(sa.sun_path, sock_path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* Send what the server takes; a server that closed early is fine. */
static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

/* Print the one reply line of `fd`, waiting up to 60 s. */
static void print_reply(const char *mode, int fd)
{
	char buf[4096];
	size_t have = 0;
	struct timeval tv = { .tv_sec = 60 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			break;
		have += n;
		if (memchr(buf, '\n', have))
			break;
	}
	buf[have] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("reply %s %s\n", mode, have ? buf : "<none>");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *mode;
	int fds[100];
	int i, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET MODE\n", argv[0]);
		return 2;
	}
	sock_path = argv[1];
	mode = argv[2];
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(mode, "garbage")) {
		static const char *const cases[] = {
			"\xff\xfe\x01garbage\n", "\n", "reboot now\n",
			"swap -1\n", "swap 12abc\n", "status extra\n",
		};
		for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
			fd = conn();
			send_all(fd, cases[i], strlen(cases[i]));
			print_reply(mode, fd);
			close(fd);
		}
		/* A well-formed swap whose payload is not ONNX. */
		fd = conn();
		send_all(fd, "swap 16\n\x08\x07not-onnx-bytes", 24);
		print_reply(mode, fd);
		close(fd);
	} else if (!strcmp(mode, "longline")) {
		size_t len = 10 << 20;
		char *big = malloc(len);

		if (!big)
			return 1;
		memset(big, 'a', len);
		fd = conn();
		send_all(fd, big, len);
		print_reply(mode, fd);
		close(fd);
		free(big);
	} else if (!strcmp(mode, "half") || !strcmp(mode, "hangup")) {
		fd = conn();
		send_all(fd, "swap 1000\n0123456789", 20);
		if (!strcmp(mode, "half")) {
			shutdown(fd, SHUT_WR);
			print_reply(mode, fd);
		}
		close(fd);
	} else if (!strcmp(mode, "flood")) {
		for (i = 0; i < 100; i++)
			fds[i] = conn();
		sleep(8);
		for (i = 0; i < 100; i++)
			close(fds[i]);
	} else if (!strcmp(mode, "noread")) {
		for (i = 0; i < 50; i++) {
			fds[i] = conn();
			send_all(fds[i], "status\n", 7);
		}
		sleep(2);
		for (i = 0; i < 50; i++)
			close(fds[i]);
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
