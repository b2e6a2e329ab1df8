from descript_mcp.cli import main

raise SystemExit(main())
