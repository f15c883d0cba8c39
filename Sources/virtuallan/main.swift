print("virtuallan")
