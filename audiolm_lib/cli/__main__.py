from audiolm_lib.cli import main

main()
