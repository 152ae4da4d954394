"""``pycompss.streams``: DistroStreams on a shared file system."""
