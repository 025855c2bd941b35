"""`apt_source`: a deb822 file in /etc/apt/sources.list.d/<name>.sources and its signing key."""
