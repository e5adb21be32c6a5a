from imuwalk.cli.main import main

raise SystemExit(main())
