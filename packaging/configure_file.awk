# Fills a packaging/*.in template: every @name@ becomes the value of the environment variable
# PM_name (the Makefile's install target sets them); an unknown @name@ is an error.
#   PM_version=0.1.0 awk -f packaging/configure_file.awk postmessage.pc.in > postmessage.pc
{
  line = $0
  out = ""
  while (match(line, /@[A-Za-z_]+@/)) {
    key = "PM_" substr(line, RSTART + 1, RLENGTH - 2)
    if (!(key in ENVIRON)) {
      printf "%s:%d: no value for %s (environment variable %s)\n", FILENAME, FNR, substr(line, RSTART, RLENGTH), key > "/dev/stderr"
      failed = 1
      exit 1
    }
    out = out substr(line, 1, RSTART - 1) ENVIRON[key]
    line = substr(line, RSTART + RLENGTH)
  }
  print out line
}
END { if (failed) exit 1 }
