/*
 * files: file and directory calls on a fresh directory under argv[1]: open/creat/read/write,
 * pread/pwrite, the stat family, directory listing, lseek, rename, unlink, mkdir/rmdir,
 * symlink/readlink, access, ftruncate, fsync, dup/dup2/dup3 and fcntl.
 */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static char base[4096];

static const char *at(const char *name)
{
	static char path[2][4200];
	static int which;
	which ^= 1;
	snprintf(path[which], sizeof path[which], "%s/%s", base, name);
	return path[which];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the directory via opendir/readdir (getdents64), sorted, with each entry's kind. */
static void list_dir(const char *label)
{
	DIR *d = opendir(base);
	if (!d) FAIL("opendir(%s)", base);
	char *names[64];
	int n = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (n == 64) FAIL("too many entries");
		char kind = e->d_type == DT_DIR ? 'd' : e->d_type == DT_LNK ? 'l' :
			    e->d_type == DT_REG ? 'f' : '?';
		if (asprintf(&names[n++], "%s(%c)", e->d_name, kind) < 0) FAIL("asprintf");
	}
	if (errno) FAIL("readdir");
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp_str);
	printf("%s:", label);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static const char *kind_of(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

static void file_io(void)
{
	char buf[256];
	int fd = SYS(creat(at("a.txt"), 0640));
	EXPECT(SYS(write(fd, "hello world\n", 12)) == 12);
	close(fd);

	fd = SYS(open(at("a.txt"), O_RDWR));
	ssize_t n = SYS(read(fd, buf, sizeof buf));
	printf("read after creat: %zd bytes \"%.*s\"\n", n, (int)n - 1, buf);
	EXPECT(SYS(pwrite(fd, "WORLD", 5, 6)) == 5);
	memset(buf, 0, sizeof buf);
	n = SYS(pread(fd, buf, 5, 6));
	printf("pread at 6 after pwrite: \"%.*s\"\n", (int)n, buf);
	printf("offset unchanged by pread/pwrite: %s\n", yesno(SYS(lseek(fd, 0, SEEK_CUR)) == 12));
	printf("lseek SEEK_SET 2: %ld\n", (long)SYS(lseek(fd, 2, SEEK_SET)));
	printf("lseek SEEK_CUR +3: %ld\n", (long)SYS(lseek(fd, 3, SEEK_CUR)));
	n = SYS(read(fd, buf, 3));
	printf("read 3 at 5: \"%.*s\"\n", (int)n, buf);
	printf("lseek SEEK_END -1: %ld\n", (long)SYS(lseek(fd, -1, SEEK_END)));
	printf("lseek SEEK_END +4: %ld\n", (long)SYS(lseek(fd, 4, SEEK_END)));
	EXPECT(SYS(write(fd, "!", 1)) == 1);
	struct stat st;
	SYS(fstat(fd, &st));
	printf("fstat size after write past end: %ld\n", (long)st.st_size);
	EXPECT(SYS(pread(fd, buf, 4, 12)) == 4);
	printf("hole reads as zeros: %s\n", yesno(memcmp(buf, "\0\0\0\0", 4) == 0));

	SYS(ftruncate(fd, 3));
	SYS(fstat(fd, &st));
	printf("ftruncate 3: size %ld\n", (long)st.st_size);
	n = SYS(pread(fd, buf, sizeof buf, 0));
	printf("content after ftruncate: \"%.*s\"\n", (int)n, buf);
	SYS(ftruncate(fd, 100));
	SYS(fstat(fd, &st));
	printf("ftruncate 100: size %ld\n", (long)st.st_size);
	SYS(fsync(fd));
	SYS(fdatasync(fd));
	printf("fsync, fdatasync: ok\n");
	close(fd);
	EXPECT_ERR(close(fd), EBADF);
	printf("close twice: EBADF\n");

	fd = SYS(open(at("b.txt"), O_WRONLY | O_CREAT | O_EXCL, 0600));
	write_full(fd, "second file\n", 12);
	close(fd);
	EXPECT_ERR(open(at("b.txt"), O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST);
	printf("O_EXCL on existing: EEXIST\n");
	EXPECT_ERR(open(at("missing"), O_RDONLY), ENOENT);
	printf("open missing: ENOENT\n");
	fd = SYS(open(at("b.txt"), O_WRONLY | O_APPEND));
	write_full(fd, "appended\n", 9);
	close(fd);
	fd = SYS(open(at("b.txt"), O_RDONLY));
	n = SYS(read(fd, buf, sizeof buf));
	printf("O_APPEND result: %zd bytes\n", n);
	close(fd);
}

static void print_stat(const char *label, const struct stat *st)
{
	/* A directory's size and link count depend on the file system: not printed. */
	if (S_ISDIR(st->st_mode)) {
		printf("%s: dir mode %03o\n", label, (unsigned)(st->st_mode & 0777));
		return;
	}
	printf("%s: %s mode %03o size %ld nlink %ld\n", label, kind_of(st->st_mode),
	       (unsigned)(st->st_mode & 0777), (long)st->st_size, (long)st->st_nlink);
}

static void stats(void)
{
	struct stat st, st2;
	SYS(stat(at("a.txt"), &st));
	print_stat("stat a.txt", &st);
	SYS(symlink("a.txt", at("link")));
	SYS(lstat(at("link"), &st2));
	print_stat("lstat link", &st2);
	SYS(stat(at("link"), &st2));
	printf("stat via link is a.txt: %s\n",
	       yesno(st2.st_ino == st.st_ino && st2.st_dev == st.st_dev));
	char target[64];
	ssize_t n = SYS(readlink(at("link"), target, sizeof target));
	printf("readlink: \"%.*s\"\n", (int)n, target);

	int dfd = SYS(open(base, O_RDONLY | O_DIRECTORY));
	SYS(fstatat(dfd, "link", &st2, AT_SYMLINK_NOFOLLOW));
	print_stat("fstatat link nofollow", &st2);
	SYS(fstatat(dfd, "a.txt", &st2, 0));
	printf("fstatat a.txt same inode as stat: %s\n", yesno(st2.st_ino == st.st_ino));
	struct statx sx;
	SYS(statx(dfd, "b.txt", 0, STATX_BASIC_STATS, &sx));
	printf("statx b.txt: %s mode %03o size %llu\n", kind_of(sx.stx_mode),
	       (unsigned)(sx.stx_mode & 0777), (unsigned long long)sx.stx_size);
	SYS(statx(AT_FDCWD, at("link"), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx));
	printf("statx link nofollow: %s\n", kind_of(sx.stx_mode));
	int fd = SYS(openat(dfd, "c.txt", O_RDWR | O_CREAT | O_TRUNC, 0644));
	write_full(fd, "via openat\n", 11);
	SYS(fstat(fd, &st2));
	print_stat("fstat c.txt", &st2);
	close(fd);
	close(dfd);
	EXPECT_ERR(stat(at("nope"), &st2), ENOENT);
	printf("stat missing: ENOENT\n");
}

static void access_rename(void)
{
	printf("access a.txt R_OK|W_OK: %s\n", yesno(access(at("a.txt"), R_OK | W_OK) == 0));
	SYS(rename(at("a.txt"), at("renamed.txt")));
	EXPECT_ERR(access(at("a.txt"), F_OK), ENOENT);
	printf("after rename, old name: ENOENT, new name exists: %s\n",
	       yesno(access(at("renamed.txt"), F_OK) == 0));
	struct stat st;
	SYS(lstat(at("link"), &st));
	EXPECT_ERR(stat(at("link"), &st), ENOENT);
	printf("dangling link after rename: stat ENOENT, lstat ok\n");
	SYS(mkdir(at("sub"), 0755));
	EXPECT_ERR(mkdir(at("sub"), 0755), EEXIST);
	int fd = SYS(open(at("sub/inner"), O_CREAT | O_WRONLY, 0644));
	close(fd);
	EXPECT_ERR(rmdir(at("sub")), ENOTEMPTY);
	printf("mkdir twice: EEXIST; rmdir non-empty: ENOTEMPTY\n");
	SYS(mkdir(at("empty"), 0700));
	SYS(stat(at("empty"), &st));
	print_stat("stat empty dir", &st);
	list_dir("listing");
	SYS(rmdir(at("empty")));
	SYS(unlink(at("sub/inner")));
	SYS(rmdir(at("sub")));
	SYS(unlink(at("link")));
	EXPECT_ERR(unlink(at("link")), ENOENT);
	list_dir("listing after removals");
}

static void dups(void)
{
	char buf[16];
	int fd = SYS(open(at("renamed.txt"), O_RDONLY));
	int d = SYS(dup(fd));
	EXPECT(SYS(read(fd, buf, 2)) == 2);
	printf("dup shares the offset: %s\n", yesno(SYS(lseek(d, 0, SEEK_CUR)) == 2));
	int target = 200;
	printf("dup2 returns the requested fd: %s\n", yesno(SYS(dup2(fd, target)) == target));
	printf("dup2 onto itself: %s\n", yesno(SYS(dup2(target, target)) == target));
	printf("dup3 with O_CLOEXEC returns the requested fd: %s\n",
	       yesno(SYS(dup3(fd, 201, O_CLOEXEC)) == 201));
	printf("dup3 sets FD_CLOEXEC: %s\n", yesno(SYS(fcntl(201, F_GETFD)) & FD_CLOEXEC));
	EXPECT_ERR(dup3(fd, fd, 0), EINVAL);
	printf("dup3 onto itself: EINVAL\n");
	printf("dup'd fd has no FD_CLOEXEC: %s\n", yesno(!(SYS(fcntl(d, F_GETFD)) & FD_CLOEXEC)));
	SYS(fcntl(d, F_SETFD, FD_CLOEXEC));
	printf("F_SETFD FD_CLOEXEC sticks: %s\n", yesno(SYS(fcntl(d, F_GETFD)) == FD_CLOEXEC));
	int hi = SYS(fcntl(fd, F_DUPFD_CLOEXEC, 300));
	printf("F_DUPFD_CLOEXEC >= 300: %s, cloexec: %s\n", yesno(hi >= 300),
	       yesno(SYS(fcntl(hi, F_GETFD)) & FD_CLOEXEC));
	int fl = SYS(fcntl(fd, F_GETFL));
	printf("F_GETFL access mode O_RDONLY: %s\n", yesno((fl & O_ACCMODE) == O_RDONLY));
	int wfd = SYS(open(at("c.txt"), O_WRONLY));
	SYS(fcntl(wfd, F_SETFL, SYS(fcntl(wfd, F_GETFL)) | O_APPEND | O_NONBLOCK));
	fl = SYS(fcntl(wfd, F_GETFL));
	printf("F_SETFL O_APPEND|O_NONBLOCK: append %s nonblock %s\n", yesno(fl & O_APPEND),
	       yesno(fl & O_NONBLOCK));
	write_full(wfd, "tail\n", 5);
	struct stat st;
	SYS(fstat(wfd, &st));
	printf("append after F_SETFL: size %ld\n", (long)st.st_size);
	close(wfd);
	close(hi);
	close(201);
	close(target);
	close(d);
	close(fd);
	EXPECT_ERR(fcntl(target, F_GETFD), EBADF);
	printf("closed fd: EBADF\n");
}

int main(int argc, char **argv)
{
	scenario_init();
	if (argc != 2) {
		fprintf(stderr, "usage: files TMPDIR\n");
		return 2;
	}
	umask(022);
	snprintf(base, sizeof base, "%s/files.d", argv[1]);
	SYS(mkdir(base, 0755));
	file_io();
	stats();
	access_rename();
	dups();
	SYS(unlink(at("renamed.txt")));
	SYS(unlink(at("b.txt")));
	SYS(unlink(at("c.txt")));
	list_dir("listing at the end");
	SYS(rmdir(base));
	EXPECT_ERR(rmdir(base), ENOENT);
	printf("files: done\n");
	return 0;
}
