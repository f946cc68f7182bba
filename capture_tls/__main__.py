from capture_tls.cli import main

main()
