python exec(open(__import__("os").environ["NONSTOP_DRIVER"]).read())
