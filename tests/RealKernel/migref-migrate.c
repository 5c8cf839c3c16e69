// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * migref-migrate: moves the VFIO migration v2 state of one migref mdev into
 * another on the same kernel, as QEMU would between two hosts, and prints the
 * outcome as one line. Built statically by scripts/real-kernel/run.sh and run
 * in its guest by scripts/real-kernel/migref-migrations.sh.
 *
 * Usage: migref-migrate SRC_UUID DST_UUID [MAJOR.MINOR]
 *   With MAJOR.MINOR, the saved header's driver version is rewritten before
 *   the load, as if a source running that driver version had saved it (the
 *   header format is in docs/reference-driver.md).
 *
 * Prints "=> ok command=0xNNNN" (the destination's PCI command register after
 * the load, which the source had set to 0x0006) or "=> fail ERRNO at STEP".
 * Exits 0 whenever it printed a verdict, 1 when the set-up failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#define STATE_MAX	4096
#define HEADER_MAJOR	24	/* offsets in the migref state header */
#define HEADER_MINOR	26
#define COMMAND		4	/* PCI command register */

static int container = -1;

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENODEV: return "ENODEV";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EBUSY: return "EBUSY";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	default: return "E?";
	}
}

static int fail_setup(const char *what)
{
	fprintf(stderr, "migref-migrate: %s: %s\n", what, strerror(errno));
	return -1;
}

/* Opens the VFIO device of mdev @uuid through its IOMMU group. */
static int open_device(const char *uuid)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX + 16], link[PATH_MAX];
	const char *group_id;
	ssize_t len;
	int group, device;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return fail_setup(path);
	link[len] = '\0';
	group_id = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/%s", group_id ? group_id + 1 : link);
	group = open(path, O_RDWR);
	if (group < 0)
		return fail_setup(path);
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail_setup("group not viable");
	if (container < 0) {
		container = open("/dev/vfio/vfio", O_RDWR);
		if (container < 0)
			return fail_setup("/dev/vfio/vfio");
		if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
		    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
			return fail_setup("container");
	} else if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)) {
		return fail_setup("container");
	}
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (device < 0)
		return fail_setup("VFIO_GROUP_GET_DEVICE_FD");
	return device;
}

/* Sets migration state @state; *@data_fd gets the data fd, if any. */
static int set_state(int device, uint32_t state, int *data_fd)
{
	struct {
		struct vfio_device_feature feature;
		struct vfio_device_feature_mig_state mig;
	} arg = {
		.feature.argsz = sizeof(arg),
		.feature.flags = VFIO_DEVICE_FEATURE_SET |
				 VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		.mig.device_state = state,
		.mig.data_fd = -1,
	};

	if (ioctl(device, VFIO_DEVICE_FEATURE, &arg))
		return -1;
	if (data_fd)
		*data_fd = arg.mig.data_fd;
	return 0;
}

static off_t config_offset(int device)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};

	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -1;
	return info.offset;
}

static int report_fail(const char *step)
{
	printf("=> fail %s at %s\n", errno_name(errno), step);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int major = 0, minor = 0;
	uint8_t state[STATE_MAX];
	uint16_t command = 0x0006;
	ssize_t size = 0, n = 0;
	int src, dst, fd;
	off_t src_config, dst_config;

	if (argc < 3 || argc > 4 ||
	    (argc == 4 && (sscanf(argv[3], "%u.%u", &major, &minor) != 2 ||
			   major > 0xffff || minor > 0xffff))) {
		fprintf(stderr, "usage: migref-migrate SRC_UUID DST_UUID [MAJOR.MINOR]\n");
		return 2;
	}
	src = open_device(argv[1]);
	dst = src < 0 ? -1 : open_device(argv[2]);
	if (src < 0 || dst < 0)
		return 1;
	src_config = config_offset(src);
	dst_config = config_offset(dst);
	if (src_config < 0 || dst_config < 0 ||
	    pwrite(src, &command, sizeof(command), src_config + COMMAND) != sizeof(command))
		return fail_setup("config space");

	/* Source: RUNNING -> STOP_COPY, read the whole state, back to RUNNING. */
	if (set_state(src, VFIO_DEVICE_STATE_STOP_COPY, &fd) || fd < 0)
		return report_fail("source STOP_COPY");
	while (size < STATE_MAX && (n = read(fd, state + size, STATE_MAX - size)) > 0)
		size += n;
	close(fd);
	if (n < 0)
		return report_fail("source read");
	if (set_state(src, VFIO_DEVICE_STATE_RUNNING, NULL))
		return report_fail("source RUNNING");
	if (argc == 4 && size > HEADER_MINOR + 1) {
		state[HEADER_MAJOR] = major & 0xff;
		state[HEADER_MAJOR + 1] = major >> 8;
		state[HEADER_MINOR] = minor & 0xff;
		state[HEADER_MINOR + 1] = minor >> 8;
	}

	/* Destination: RUNNING -> RESUMING, write the state, STOP, RUNNING. */
	if (set_state(dst, VFIO_DEVICE_STATE_RESUMING, &fd) || fd < 0)
		return report_fail("destination RESUMING");
	if (write(fd, state, size) != size) {
		report_fail("the stream");
		close(fd);
		ioctl(dst, VFIO_DEVICE_RESET);
		return 0;
	}
	close(fd);
	if (set_state(dst, VFIO_DEVICE_STATE_RUNNING, NULL)) {
		report_fail("destination RUNNING");
		ioctl(dst, VFIO_DEVICE_RESET);
		return 0;
	}
	command = 0;
	if (pread(dst, &command, sizeof(command), dst_config + COMMAND) != sizeof(command))
		return fail_setup("config space");
	printf("=> ok command=0x%04x\n", command);
	return 0;
}
